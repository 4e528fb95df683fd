/* multipart.h: a streaming multipart/form-data parser (RFC 7578, RFC 2046).
 *
 * Self-contained (libc and core/error.h only), so the unit tests and the
 * fuzzer drive it alone.  The body is fed in pieces of any size, as the
 * network delivers it; the parser calls back for each part's headers, its
 * bytes and its end.  It holds one part's header block (at most
 * RD_MP_MAX_HEADER bytes) and a small output buffer, never a whole part, so
 * an upload of any size streams through in constant memory.
 *
 * Ownership: rd_mp_create() makes a parser that the caller frees with
 * rd_mp_destroy().  The strings in rd_mp_part belong to the parser and are
 * valid only during the part_begin callback.
 */
#ifndef RD_MULTIPART_H
#define RD_MULTIPART_H

#include <stddef.h>

/* Longest header block of one part, and most parts in one body. */
#define RD_MP_MAX_HEADER 8192
#define RD_MP_MAX_PARTS 256
/* RFC 2046 allows 70; a little slack for clients that exceed it. */
#define RD_MP_MAX_BOUNDARY 200

typedef struct rd_mp_part {
    const char *name;         /* the form field name ("" when absent) */
    const char *filename;     /* NULL when the part names no file; filename* wins over filename
                                 and is decoded to UTF-8 */
    const char *content_type; /* the part's Content-Type ("" when absent) */
} rd_mp_part;

/* Each callback returns 0 to go on, or a negative rt_err code (with the
 * message set by rt_error()) that stops the parser: rd_mp_feed() then returns
 * that code, and every later call returns it again. */
typedef struct rd_mp_callbacks {
    int (*part_begin)(void *user, const rd_mp_part *part);
    int (*part_data)(void *user, const char *data, size_t len);
    int (*part_end)(void *user);
} rd_mp_callbacks;

typedef struct rd_mp_parser rd_mp_parser;

/* Extracts the boundary from a Content-Type header value such as
 * `multipart/form-data; boundary="----x"`.  RT_ERR_ARG when the type is not
 * multipart/form-data or the boundary is missing or malformed. */
int rd_mp_boundary(const char *content_type, char *out, size_t cap);

int rd_mp_create(const char *boundary, const rd_mp_callbacks *callbacks, void *user,
                 rd_mp_parser **out);
/* Feeds the next piece of the body.  Returns 0 or a negative rt_err code
 * (RT_ERR_ARG for a malformed body, or whatever a callback returned). */
int rd_mp_feed(rd_mp_parser *p, const char *data, size_t len);
/* Call at the end of the body: RT_ERR_ARG when the closing boundary never
 * came (a truncated upload). */
int rd_mp_finish(rd_mp_parser *p);
void rd_mp_destroy(rd_mp_parser *p);

/* Parses one `; key=value` parameter list (Content-Disposition, Content-Type)
 * and returns the value of key (case-insensitive) in out: quoted strings are
 * unquoted, and `key*` (RFC 8187: charset'lang'percent-encoded) is decoded to
 * UTF-8 and preferred over `key`.  Returns 1 when found, 0 when not, and a
 * negative code when the value does not fit in cap.  Exposed for the tests. */
int rd_mp_header_param(const char *header, const char *key, char *out, size_t cap);

#endif
