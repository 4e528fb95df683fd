/* upload.h: a request body, received as it streams in.
 *
 * Turns a POST body (multipart/form-data, urlencoded or raw JSON) into text
 * fields held in memory, under limits, plus at most one file (the `file`
 * part) written straight to a spool file whose name the server picks: the
 * client's file name is kept as a string and never touches the file system.
 *
 * An error found while streaming (a part over the limit, a malformed body)
 * is recorded and the rest of the body is read and dropped, so the client
 * still gets a clean HTTP answer; only past `max_discard_bytes` does
 * rd_upload_feed() ask for the connection to be closed.
 *
 * Self-contained: depends on multipart.c, form.c and core/error.c only (the
 * fuzzer builds it alone).
 *
 * Ownership: rd_upload_create() makes the upload; rd_upload_destroy() frees
 * it and deletes its spool file unless rd_upload_keep_file() moved it away.
 */
#ifndef RD_UPLOAD_H
#define RD_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

typedef struct rd_upload rd_upload;

/* What every upload spools, together (shared by the uploads of a server; the
 * counters are atomic).  A client cannot fill the disk: all spool files
 * together stay under max_total, those whose token has not been seen yet
 * under max_unauth, and no file byte is written while the file system has
 * less than min_free bytes free (that room is for running jobs). */
typedef struct rd_spool_budget {
    _Atomic uint64_t used;   /* bytes in spool files now */
    _Atomic uint64_t unauth; /* of which in uploads without a valid token yet */
    uint64_t max_total;      /* 0: no cap */
    uint64_t max_unauth;     /* 0: no cap */
    uint64_t min_free;       /* 0: not checked */
} rd_spool_budget;

typedef struct rd_upload_limits {
    uint64_t max_file_bytes;    /* the `file` part; over it: RT_ERR_TOO_BIG (413) */
    size_t max_field_bytes;     /* any one text field; over it: RT_ERR_TOO_BIG */
    size_t max_fields_bytes;    /* all text fields together (and a raw body) */
    uint64_t max_discard_bytes; /* after an error, bytes dropped before giving up */
    rd_spool_budget *budget;    /* NULL: no budget */
    /* Whether the upload carries a valid token by now (the fields seen so
     * far); asked when file bytes arrive until it says yes.  NULL, or
     * authenticated set: the upload is trusted from the start. */
    int (*authorize)(void *user, const rd_upload *u);
    void *authorize_user;
    int authenticated;
} rd_upload_limits;

/* content_type: the request's Content-Type (NULL when absent).  spool_dir:
 * where the file part goes; NULL drops file bytes after counting them (unit
 * tests, fuzzing).  A malformed multipart Content-Type is not an error here:
 * it is recorded and reported by rd_upload_finish(). */
int rd_upload_create(const char *content_type, const char *spool_dir,
                     const rd_upload_limits *limits, rd_upload **out);
void rd_upload_destroy(rd_upload *u);

/* Takes the next piece of the body.  Returns 0 to keep reading (even after a
 * recorded error), or RT_ERR_TOO_BIG when the connection should be closed
 * (hostile or endless body). */
int rd_upload_feed(rd_upload *u, const char *data, size_t len);

/* Ends the body.  Returns 0, or the first error found with its message in
 * rt_error_message() (RT_ERR_ARG 400, RT_ERR_TOO_BIG 413, RT_ERR_IO 500). */
int rd_upload_finish(rd_upload *u);

/* The HTTP status of the recorded error when rt_error_http_status() has no
 * code for it (507: no room to store the upload), else 0. */
int rd_upload_error_status(const rd_upload *u);

/* Free bytes for unprivileged writers on the file system holding path, or
 * UINT64_MAX when it cannot be told. */
uint64_t rd_free_bytes(const char *path);

/* Bytes of body seen so far. */
uint64_t rd_upload_bytes(const rd_upload *u);

/* The first value of field name, or NULL.  Names match exactly; values are
 * NUL-terminated (and may hold NULs: see rd_upload_field_len). */
const char *rd_upload_field(const rd_upload *u, const char *name);
size_t rd_upload_field_len(const rd_upload *u, const char *name);
/* Every value of name (for `modes[]`), up to max; returns how many. */
size_t rd_upload_field_all(const rd_upload *u, const char *name, const char **values, size_t max);

/* A raw (non-form) body such as JSON: its bytes, NUL-terminated, or NULL. */
const char *rd_upload_raw(const rd_upload *u, size_t *len);

/* The `file` part. */
int rd_upload_has_file(const rd_upload *u);
const char *rd_upload_file_path(const rd_upload *u); /* the spool file */
const char *rd_upload_file_name(const rd_upload *u); /* cleaned client name, UTF-8 */
uint64_t rd_upload_file_bytes(const rd_upload *u);

/* Moves the spool file to dest (same file system) after fsync, so the file
 * is on disk before the job that names it is accepted.  The upload forgets
 * it. */
int rd_upload_keep_file(rd_upload *u, const char *dest);

/* Deletes the spool file now, if one is left (no job took it), and gives back
 * its budget.  Called before an answer is queued, so a client that reads a
 * refusal never finds its upload still on disk. */
void rd_upload_drop_file(rd_upload *u);

/* Cleans a client's file name for display and Content-Disposition: the part
 * after the last '/' or '\', control characters, quotes and backslashes
 * dropped, invalid UTF-8 replaced, at most cap - 1 bytes cut at a character
 * boundary; "image" when nothing is left.  Never used as a path. */
void rd_clean_filename(const char *in, char *out, size_t cap);

#endif
