/* form.h: application/x-www-form-urlencoded bodies (the balance route's
 * `retouchtoken=...&modes[]=professional`).
 *
 * Self-contained (libc and core/error.h only).
 */
#ifndef RD_FORM_H
#define RD_FORM_H

#include <stddef.h>

/* Called once per name=value pair, both percent-decoded ('+' is a space) and
 * NUL-terminated; the strings live only during the call.  Return 0 to go
 * on, or a negative rt_err code to stop. */
typedef int (*rd_form_fn)(void *user, const char *name, const char *value, size_t value_len);

/* Walks body[0..len).  Returns 0, RT_ERR_NOMEM, or the callback's error. */
int rd_form_parse(const char *body, size_t len, rd_form_fn fn, void *user);

/* Percent-decodes src[0..len) into dst (room for len + 1 bytes); '+' becomes
 * a space when plus_is_space.  Returns the decoded length. */
size_t rd_percent_decode(const char *src, size_t len, char *dst, int plus_is_space);

#endif
