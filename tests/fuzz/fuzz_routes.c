/* libFuzzer target for retouchd's route handling: path normalisation, route
 * matching against the real table (route_table.h), and the download name
 * that goes back to clients in Content-Disposition.  Oracles:
 *   - a normalised path starts with '/', has no "//", no trailing '/', and
 *     normalising it again changes nothing;
 *   - a matched {id} is 1..64 characters of [A-Za-z0-9_-];
 *   - every failure has a message;
 *   - a client's file name becomes a Content-Disposition value of printable
 *     ASCII only, with its quoted filename intact (no header injection).
 * Input layout: byte 0 picks the method; the rest is the path, then a NUL,
 * then a file name.  See tests/fuzz/run.
 */
#include "core/error.h"
#include "server/reply.h"
#include "server/route_table.h"
#include "server/router.h"
#include "server/upload.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PATTERN(method, pattern, body, handler) {method, pattern},
static const rd_route_pattern table[] = {RD_ROUTE_TABLE(PATTERN)};
#define NROUTES (sizeof table / sizeof table[0])

static int is_id_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

static void check_path(const char *raw)
{
    static const char *const methods[] = {"GET", "POST", "HEAD", "PUT", "DELETE", "get"};
    char path[RD_PATH_MAX], again[RD_PATH_MAX];
    if (rd_path_normalize(raw, path, sizeof path)) {
        if (!rt_error_message()[0])
            abort();
        return;
    }
    size_t n = strlen(path);
    if (path[0] != '/' || strstr(path, "//") || (n > 1 && path[n - 1] == '/'))
        abort();
    if (rd_path_normalize(path, again, sizeof again) || strcmp(path, again) != 0)
        abort();
    for (size_t m = 0; m < sizeof methods / sizeof *methods; m++) {
        char id[RD_ROUTE_ID_MAX + 1];
        int i = rd_route_find(table, NROUTES, sizeof *table, methods[m], path, id, sizeof id);
        if (i < 0) {
            if (i != RT_ERR_NOT_FOUND || !rt_error_message()[0])
                abort();
            continue;
        }
        if ((size_t)i >= NROUTES)
            abort();
        if (strstr(table[i].pattern, "{id}")) {
            size_t len = strlen(id);
            if (len == 0 || len > RD_ROUTE_ID_MAX)
                abort();
            for (size_t k = 0; k < len; k++)
                if (!is_id_char(id[k]))
                    abort();
        }
    }
}

static void check_disposition(const char *client_name)
{
    char name[512];
    rd_clean_filename(client_name, name, sizeof name);
    char *d = rd_content_disposition(name);
    if (!d)
        abort();
    for (const unsigned char *s = (const unsigned char *)d; *s; s++)
        if (*s < 0x20 || *s >= 0x7f)
            abort();
    /* attachment; filename="..." with no quote inside the quotes */
    const char *q = strchr(d, '"');
    if (!q || strncmp(d, "attachment; filename=\"", 22) != 0)
        abort();
    const char *end = strchr(q + 1, '"');
    if (!end || (end[1] != '\0' && strncmp(end + 1, "; filename*=UTF-8''", 19) != 0))
        abort();
    free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    /* MHD hands the handler a path that starts with '/': so do most tests. */
    if (data[0] & 1) {
        char *path = malloc(size + 2);
        path[0] = '/';
        memcpy(path + 1, buf, size);
        check_path(path);
        free(path);
    } else {
        check_path(buf);
    }
    size_t plen = strlen(buf);
    if (plen + 1 < size)
        check_disposition(buf + plen + 1);
    free(buf);
    return 0;
}
