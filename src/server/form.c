/* application/x-www-form-urlencoded (see form.h). */
#include "server/form.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

size_t rd_percent_decode(const char *src, size_t len, char *dst, int plus_is_space)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%' && i + 2 < len && hex_digit(src[i + 1]) >= 0 && hex_digit(src[i + 2]) >= 0) {
            c = (char)(hex_digit(src[i + 1]) * 16 + hex_digit(src[i + 2]));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        dst[n++] = c;
    }
    dst[n] = '\0';
    return n;
}

int rd_form_parse(const char *body, size_t len, rd_form_fn fn, void *user)
{
    /* One scratch buffer as long as the body holds any decoded name or value. */
    char *scratch = malloc(len + 2);
    if (!scratch) return rt_error(RT_ERR_NOMEM, "out of memory");
    int err = 0;
    size_t i = 0;
    while (i < len && !err) {
        size_t start = i;
        while (i < len && body[i] != '&')
            i++;
        size_t end = i++;
        if (end == start) continue;
        const char *eq = memchr(body + start, '=', end - start);
        size_t name_len = eq ? (size_t)(eq - (body + start)) : end - start;
        char *name = scratch;
        size_t nlen = rd_percent_decode(body + start, name_len, name, 1);
        char *value = scratch + nlen + 1;
        size_t vlen = 0;
        if (eq)
            vlen = rd_percent_decode(eq + 1, (size_t)(body + end - (eq + 1)), value, 1);
        else
            value[0] = '\0';
        err = fn(user, name, value, vlen);
    }
    free(scratch);
    return err;
}
