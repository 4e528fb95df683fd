/* router.h: maps a method and a path to a route of a table.
 *
 * Self-contained (libc and core/error.h only): the route table itself and
 * its handlers live in routes.c; this file only normalises paths and
 * matches patterns, so the fuzzer and tests drive it alone.
 *
 * A pattern is a path whose segments are literals, matched ignoring case,
 * or "{id}", which matches one segment of [A-Za-z0-9_-]{1,RD_ROUTE_ID_MAX}.
 */
#ifndef RD_ROUTER_H
#define RD_ROUTER_H

#include <stddef.h>

#define RD_ROUTE_ID_MAX 64
#define RD_PATH_MAX 1024

typedef struct rd_route_pattern {
    const char *method;  /* "GET", "POST"; HEAD matches GET */
    const char *pattern; /* "/api/v1/retoucher/status/{id}" */
} rd_route_pattern;

/* Collapses repeated slashes ("//start" is a real client's spelling) and
 * drops a trailing one.  RT_ERR_NOT_FOUND when the path does not start with
 * '/', holds a NUL or control character, or is longer than cap - 1. */
int rd_path_normalize(const char *path, char *out, size_t cap);

/* Finds the route for method and a normalised path in patterns[0..n)
 * (entries are `stride` bytes apart, so a larger struct that starts with an
 * rd_route_pattern can be searched).  On success returns the index and
 * copies the {id} segment, if any, into id.  RT_ERR_NOT_FOUND with a
 * message when no pattern matches the path, or when one matches but with
 * another method (the message says which method to use). */
int rd_route_find(const void *patterns, size_t n, size_t stride, const char *method,
                  const char *path, char *id, size_t id_cap);

#endif
