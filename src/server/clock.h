/* clock.h: wall-clock time as the API shows it. */
#ifndef RD_CLOCK_H
#define RD_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (UTC). */
int64_t rd_now_ms(void);
/* "2026-01-02T03:04:05Z" (out: at least 32 bytes). */
void rd_iso8601(int64_t ms, char *out);
/* "2026-01-02": the UTC day quotas count (out: at least 11 bytes). */
void rd_utc_day(int64_t ms, char *out);

#endif
