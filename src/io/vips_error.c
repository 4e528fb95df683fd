#include "io/vips_error.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <vips/vips.h>

static int word_break(char c)
{
    return c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '"' || c == '\'' || c == '(' ||
           c == ')' || c == '[' || c == ']' || c == ',' || c == '`';
}

void rt_strip_paths(char *text)
{
    char *out = text;
    const char *p = text;
    while (*p) {
        if (word_break(*p)) {
            *out++ = *p++;
            continue;
        }
        const char *end = p, *tail = p;
        while (!word_break(*end)) {
            if (*end == '/') tail = end + 1;
            end++;
        }
        /* memmove: out never runs ahead of tail */
        size_t n = (size_t)(end - tail);
        memmove(out, tail, n);
        out += n;
        p = end;
    }
    *out = '\0';
}

void rt_vips_error_take(char *out, size_t cap)
{
    if (!cap) return;
    char *e = vips_error_buffer_copy();
    snprintf(out, cap, "%s", e && *e ? e : "unknown libvips error");
    g_free(e);
    /* the first two lines at most, on one line */
    char *nl = strchr(out, '\n');
    if (nl) {
        if (nl[1]) {
            *nl = ' ';
            char *second = strchr(nl + 1, '\n');
            if (second) *second = '\0';
        } else {
            *nl = '\0';
        }
    }
    rt_strip_paths(out);
}

void rt_vips_error_drop(void)
{
    g_free(vips_error_buffer_copy());
}
