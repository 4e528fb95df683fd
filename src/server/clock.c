/* Wall-clock helpers (see clock.h). */
#include "server/clock.h"

#include <stdio.h>
#include <time.h>

int64_t rd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void utc(int64_t ms, struct tm *tm)
{
    time_t t = (time_t)(ms / 1000);
    gmtime_r(&t, tm);
}

void rd_iso8601(int64_t ms, char *out)
{
    struct tm tm;
    utc(ms, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void rd_utc_day(int64_t ms, char *out)
{
    struct tm tm;
    utc(ms, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}
