/* Path normalisation and route matching (see router.h). */
#include "server/router.h"

#include "core/error.h"

#include <string.h>
#include <strings.h>

int rd_path_normalize(const char *path, char *out, size_t cap)
{
    if (!path || path[0] != '/' || cap < 2)
        return rt_error(RT_ERR_NOT_FOUND, "unknown route: a path starts with '/'");
    size_t n = 0;
    for (const char *s = path; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            return rt_error(RT_ERR_NOT_FOUND, "unknown route: the path holds a control "
                                              "character");
        if (c == '/' && n > 0 && out[n - 1] == '/') continue;
        if (n + 1 >= cap)
            return rt_error(RT_ERR_NOT_FOUND,
                            "unknown route: the path is longer than %zu "
                            "bytes",
                            cap - 1);
        out[n++] = (char)c;
    }
    if (n > 1 && out[n - 1] == '/') n--;
    out[n] = '\0';
    return 0;
}

static int is_id_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Matches path against pattern; copies the {id} segment.  1 on a match. */
static int match(const char *pattern, const char *path, char *id, size_t id_cap)
{
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (strncmp(p, "{id}", 4) == 0) {
            size_t len = 0;
            while (s[len] && s[len] != '/') {
                if (!is_id_char(s[len])) return 0;
                len++;
            }
            if (len == 0 || len > RD_ROUTE_ID_MAX || len >= id_cap) return 0;
            memcpy(id, s, len);
            id[len] = '\0';
            p += 4;
            s += len;
            continue;
        }
        char a = *p, b = *s;
        if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
        if (a != b) return 0;
        p++;
        s++;
    }
    return !*p && !*s;
}

int rd_route_find(const void *patterns, size_t n, size_t stride, const char *method,
                  const char *path, char *id, size_t id_cap)
{
    const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
    const char *other_method = NULL;
    if (id_cap) id[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const rd_route_pattern *r =
            (const rd_route_pattern *)(const void *)((const char *)patterns + i * stride);
        char tmp[RD_ROUTE_ID_MAX + 1];
        if (!match(r->pattern, path, tmp, sizeof tmp)) continue;
        if (strcmp(r->method, want) != 0) {
            other_method = r->method;
            continue;
        }
        if (id_cap) {
            size_t len = strlen(tmp);
            if (strstr(r->pattern, "{id}") && len < id_cap) memcpy(id, tmp, len + 1);
        }
        return (int)i;
    }
    if (other_method)
        return rt_error(RT_ERR_NOT_FOUND, "%s %.200s: this route answers %s only", method, path,
                        other_method);
    return rt_error(RT_ERR_NOT_FOUND,
                    "unknown route %s %.200s: see the API routes under "
                    "/api/v1 (POST /api/v1/retoucher/start, GET "
                    "/api/v1/retoucher/status/{id}, ...)",
                    method, path);
}
