/* A request body received as it streams in (see upload.h). */
#include "server/upload.h"

#include "core/error.h"
#include "server/form.h"
#include "server/multipart.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdatomic.h>
#include <sys/random.h>
#include <sys/statvfs.h>
#include <unistd.h>

typedef struct field {
    char *name;
    char *value; /* NUL-terminated */
    size_t len;
} field;

typedef enum body_kind { BODY_MULTIPART, BODY_URLENCODED, BODY_RAW } body_kind;
typedef enum part_kind { PART_SKIP, PART_FIELD, PART_FILE } part_kind;

struct rd_upload {
    rd_upload_limits lim;
    body_kind kind;
    rd_mp_parser *mp;
    char *spool_dir;
    int err;
    char err_message[1024];
    uint64_t total;
    uint64_t discarded;
    /* urlencoded and raw bodies */
    char *raw;
    size_t raw_len, raw_cap;
    /* text fields */
    field *fields;
    size_t nfields, fields_cap;
    size_t fields_bytes;
    part_kind part;
    /* the file part */
    int has_file;
    int fd;
    char *file_path;
    char file_name[512];
    uint64_t file_bytes;
    /* the spool budget */
    int authenticated;
    size_t auth_fields;    /* fields seen when authorize last said no */
    int err_status;        /* 507 and the like, beside err */
    uint64_t budget_bytes; /* counted in budget->used */
    uint64_t unauth_bytes; /* counted in budget->unauth */
};

/* Keeps the first error and its message: the request is answered with it
 * once the body has been read. */
static int record(rd_upload *u, int err)
{
    if (!u->err) {
        u->err = err;
        snprintf(u->err_message, sizeof u->err_message, "%s", rt_error_message());
    }
    return err;
}

static int human_size(uint64_t bytes, char *out, size_t cap)
{
    if (bytes >= (1u << 20) && bytes % (1u << 20) == 0)
        return snprintf(out, cap, "%llu MiB", (unsigned long long)(bytes >> 20));
    if (bytes >= 1024 && bytes % 1024 == 0)
        return snprintf(out, cap, "%llu KiB", (unsigned long long)(bytes >> 10));
    return snprintf(out, cap, "%llu bytes", (unsigned long long)bytes);
}

/* ---- file names ------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_char_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned int cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

void rd_clean_filename(const char *in, char *out, size_t cap)
{
    if (cap == 0) return;
    const char *base = in ? in : "";
    for (const char *s = base; *s; s++)
        if (*s == '/' || *s == '\\') base = s + 1;
    size_t n = 0, len = strlen(base);
    const unsigned char *s = (const unsigned char *)base;
    for (size_t i = 0; i < len;) {
        size_t clen = utf8_char_len(s + i, len - i);
        if (clen == 0) { /* invalid byte */
            if (n + 1 >= cap) break;
            out[n++] = '_';
            i++;
            continue;
        }
        if (clen == 1 && (s[i] < 0x20 || s[i] == 0x7f)) {
            i++;
            continue;
        }
        if (n + clen >= cap) break;
        if (clen == 1 && s[i] == '"')
            out[n++] = '\'';
        else
            memcpy(out + n, s + i, clen), n += clen;
        i += clen;
    }
    out[n] = '\0';
    /* Trim spaces at both ends ("  .jpg " is a client bug, not a name). */
    size_t start = 0;
    while (out[start] == ' ')
        start++;
    while (n > start && out[n - 1] == ' ')
        out[--n] = '\0';
    if (start) memmove(out, out + start, n - start + 1);
    if (!out[0] || strcmp(out, ".") == 0 || strcmp(out, "..") == 0) snprintf(out, cap, "image");
}

/* ---- fields ----------------------------------------------------------- */

static int add_field(rd_upload *u, const char *name)
{
    if (u->nfields == u->fields_cap) {
        size_t cap = u->fields_cap ? u->fields_cap * 2 : 8;
        field *f = realloc(u->fields, cap * sizeof *f);
        if (!f) return rt_error(RT_ERR_NOMEM, "out of memory");
        u->fields = f;
        u->fields_cap = cap;
    }
    field *f = &u->fields[u->nfields];
    f->name = strdup(name);
    f->value = calloc(1, 1);
    f->len = 0;
    if (!f->name || !f->value) {
        free(f->name);
        free(f->value);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    u->nfields++;
    return 0;
}

static int append_field(rd_upload *u, const char *data, size_t len)
{
    field *f = &u->fields[u->nfields - 1];
    char size[32];
    if (f->len + len > u->lim.max_field_bytes) {
        human_size(u->lim.max_field_bytes, size, sizeof size);
        return rt_error(RT_ERR_TOO_BIG, "the form field '%.64s' is larger than %s", f->name, size);
    }
    if (u->fields_bytes + len > u->lim.max_fields_bytes) {
        human_size(u->lim.max_fields_bytes, size, sizeof size);
        return rt_error(RT_ERR_TOO_BIG, "the form fields together are larger than %s", size);
    }
    char *v = realloc(f->value, f->len + len + 1);
    if (!v) return rt_error(RT_ERR_NOMEM, "out of memory");
    memcpy(v + f->len, data, len);
    f->len += len;
    v[f->len] = '\0';
    f->value = v;
    u->fields_bytes += len;
    return 0;
}

/* ---- the file part ---------------------------------------------------- */

static int open_spool_file(rd_upload *u)
{
    unsigned char rnd[16];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return rt_error(RT_ERR_INTERNAL, "no random bytes for a spool file name");
    char name[40];
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(name + 2 * i, 3, "%02x", rnd[i]);
    size_t cap = strlen(u->spool_dir) + sizeof name + 16;
    u->file_path = malloc(cap);
    if (!u->file_path) return rt_error(RT_ERR_NOMEM, "out of memory");
    snprintf(u->file_path, cap, "%s/%s.upload", u->spool_dir, name);
    u->fd = open(u->file_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (u->fd < 0) {
        int e = errno;
        free(u->file_path);
        u->file_path = NULL;
        return rt_error(RT_ERR_IO, "cannot create a spool file: %s", strerror(e));
    }
    return 0;
}

#define STATUS_NO_ROOM 507

uint64_t rd_free_bytes(const char *path)
{
    struct statvfs v;
    if (statvfs(path, &v) != 0) return UINT64_MAX;
    return (uint64_t)v.f_bavail * (uint64_t)v.f_frsize;
}

/* Gives back what the spool file counted in the budget. */
static void release_budget(rd_upload *u)
{
    rd_spool_budget *b = u->lim.budget;
    if (!b) return;
    atomic_fetch_sub(&b->used, u->budget_bytes);
    atomic_fetch_sub(&b->unauth, u->unauth_bytes);
    u->budget_bytes = u->unauth_bytes = 0;
}

/* An upload refused for room: its spool file goes at once, not when the
 * connection ends, so the space is free for others. */
static void drop_spool_file(rd_upload *u)
{
    if (u->fd >= 0) close(u->fd);
    u->fd = -1;
    if (u->file_path) unlink(u->file_path);
    free(u->file_path);
    u->file_path = NULL;
    release_budget(u);
}

static int no_room(rd_upload *u, const char *why)
{
    u->err_status = STATUS_NO_ROOM;
    return rt_error(RT_ERR_IO, "%s; send the job again later", why);
}

/* Takes len more file bytes into the budget, or says why not. */
static int reserve_spool(rd_upload *u, size_t len)
{
    rd_spool_budget *b = u->lim.budget;
    if (!b || u->fd < 0) return 0;
    /* Asked again only when a field arrived since it last said no (a file
     * part may come in thousands of pieces). */
    if (!u->authenticated && u->lim.authorize && u->nfields != u->auth_fields) {
        u->auth_fields = u->nfields;
        if (u->lim.authorize(u->lim.authorize_user, u)) {
            u->authenticated = 1;
            atomic_fetch_sub(&b->unauth, u->unauth_bytes);
            u->unauth_bytes = 0;
        }
    }
    if (!u->authenticated && b->max_unauth &&
        atomic_fetch_add(&b->unauth, len) + len > b->max_unauth) {
        atomic_fetch_sub(&b->unauth, len);
        return rt_error(RT_ERR_AUTH,
                        "the image came before a valid token, and this server takes only so "
                        "much of that at once: send the token field before the file, or in the "
                        "X-Retouch-Token header");
    }
    if (!u->authenticated) u->unauth_bytes += len;
    if (b->max_total && atomic_fetch_add(&b->used, len) + len > b->max_total) {
        atomic_fetch_sub(&b->used, len);
        return no_room(u, "the server is receiving as many uploads as it has room for");
    }
    if (!b->max_total) atomic_fetch_add(&b->used, len);
    u->budget_bytes += len;
    if (b->min_free && u->spool_dir) {
        uint64_t free_bytes = rd_free_bytes(u->spool_dir);
        if (free_bytes != UINT64_MAX && free_bytes < b->min_free + len)
            return no_room(u, "the server is short of disk space");
    }
    return 0;
}

static int write_all(rd_upload *u, int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == ENOSPC || errno == EDQUOT))
            return no_room(u, "the server is out of disk space");
        if (n <= 0)
            return rt_error(RT_ERR_IO, "cannot write the upload to the spool: %s",
                            n < 0 ? strerror(errno) : "short write");
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- multipart callbacks ---------------------------------------------- */

static int on_part_begin(void *user, const rd_mp_part *part)
{
    rd_upload *u = user;
    if (strcmp(part->name, "file") == 0) {
        if (u->has_file)
            return rt_error(RT_ERR_ARG, "the form has more than one 'file' part; send one image "
                                        "per job");
        u->has_file = 1;
        u->part = PART_FILE;
        rd_clean_filename(part->filename ? part->filename : "image", u->file_name,
                          sizeof u->file_name);
        return u->spool_dir ? open_spool_file(u) : 0;
    }
    if (!part->name[0]) {
        u->part = PART_SKIP;
        return 0;
    }
    /* Any other part is a text field, even when sent as a file
     * (`-F payload=@task.json`). */
    u->part = PART_FIELD;
    return add_field(u, part->name);
}

static int on_part_data(void *user, const char *data, size_t len)
{
    rd_upload *u = user;
    switch (u->part) {
    case PART_FILE:
        if (u->file_bytes + len > u->lim.max_file_bytes) {
            char size[32];
            human_size(u->lim.max_file_bytes, size, sizeof size);
            return rt_error(RT_ERR_TOO_BIG,
                            "the file is larger than this server's limit of %s; "
                            "send a smaller image",
                            size);
        }
        u->file_bytes += len;
        if (u->fd < 0) return 0;
        int err = reserve_spool(u, len);
        if (!err) err = write_all(u, u->fd, data, len);
        if (err) drop_spool_file(u);
        return err;
    case PART_FIELD:
        return append_field(u, data, len);
    case PART_SKIP:
        break;
    }
    return 0;
}

static int on_part_end(void *user)
{
    rd_upload *u = user;
    u->part = PART_SKIP;
    return 0;
}

/* ---- the upload ------------------------------------------------------- */

int rd_upload_create(const char *content_type, const char *spool_dir,
                     const rd_upload_limits *limits, rd_upload **out)
{
    *out = NULL;
    rd_upload *u = calloc(1, sizeof *u);
    if (!u) return rt_error(RT_ERR_NOMEM, "out of memory");
    u->lim = *limits;
    u->fd = -1;
    u->authenticated = limits->authenticated || !limits->authorize;
    if (spool_dir && !(u->spool_dir = strdup(spool_dir))) {
        free(u);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    const char *ct = content_type ? content_type : "";
    while (*ct == ' ')
        ct++;
    if (strncasecmp(ct, "multipart/", 10) == 0) {
        u->kind = BODY_MULTIPART;
        char boundary[RD_MP_MAX_BOUNDARY + 1];
        static const rd_mp_callbacks callbacks = {on_part_begin, on_part_data, on_part_end};
        int err = rd_mp_boundary(ct, boundary, sizeof boundary);
        if (!err) err = rd_mp_create(boundary, &callbacks, u, &u->mp);
        if (err == RT_ERR_NOMEM) {
            rd_upload_destroy(u);
            return err;
        }
        if (err) record(u, err);
    } else if (strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0) {
        u->kind = BODY_URLENCODED;
    } else {
        u->kind = BODY_RAW;
    }
    *out = u;
    return 0;
}

void rd_upload_drop_file(rd_upload *u)
{
    if (u) drop_spool_file(u);
}

void rd_upload_destroy(rd_upload *u)
{
    if (!u) return;
    drop_spool_file(u);
    rd_mp_destroy(u->mp);
    for (size_t i = 0; i < u->nfields; i++) {
        free(u->fields[i].name);
        free(u->fields[i].value);
    }
    free(u->fields);
    free(u->raw);
    free(u->spool_dir);
    free(u);
}

static int append_raw(rd_upload *u, const char *data, size_t len)
{
    if (u->raw_len + len > u->lim.max_fields_bytes) {
        char size[32];
        human_size(u->lim.max_fields_bytes, size, sizeof size);
        return rt_error(RT_ERR_TOO_BIG, "the request body is larger than %s", size);
    }
    if (u->raw_len + len + 1 > u->raw_cap) {
        size_t cap = u->raw_cap ? u->raw_cap : 4096;
        while (cap < u->raw_len + len + 1)
            cap *= 2;
        char *r = realloc(u->raw, cap);
        if (!r) return rt_error(RT_ERR_NOMEM, "out of memory");
        u->raw = r;
        u->raw_cap = cap;
    }
    memcpy(u->raw + u->raw_len, data, len);
    u->raw_len += len;
    u->raw[u->raw_len] = '\0';
    return 0;
}

int rd_upload_feed(rd_upload *u, const char *data, size_t len)
{
    u->total += len;
    if (u->err) {
        u->discarded += len;
        return u->discarded > u->lim.max_discard_bytes ? RT_ERR_TOO_BIG : 0;
    }
    int err = 0;
    if (u->kind == BODY_MULTIPART)
        err = rd_mp_feed(u->mp, data, len);
    else
        err = append_raw(u, data, len);
    if (err) record(u, err);
    return 0;
}

static int on_form_pair(void *user, const char *name, const char *value, size_t len)
{
    rd_upload *u = user;
    int err = add_field(u, name);
    return err ? err : append_field(u, value, len);
}

int rd_upload_finish(rd_upload *u)
{
    if (!u->err) {
        int err = 0;
        if (u->kind == BODY_MULTIPART)
            err = rd_mp_finish(u->mp);
        else if (u->kind == BODY_URLENCODED && u->raw_len)
            err = rd_form_parse(u->raw, u->raw_len, on_form_pair, u);
        if (err) record(u, err);
    }
    if (u->err) return rt_error(u->err, "%s", u->err_message);
    return 0;
}

int rd_upload_error_status(const rd_upload *u)
{
    return u->err ? u->err_status : 0;
}

uint64_t rd_upload_bytes(const rd_upload *u)
{
    return u->total;
}

static const field *find_field(const rd_upload *u, const char *name)
{
    for (size_t i = 0; i < u->nfields; i++)
        if (strcmp(u->fields[i].name, name) == 0) return &u->fields[i];
    return NULL;
}

const char *rd_upload_field(const rd_upload *u, const char *name)
{
    const field *f = find_field(u, name);
    return f ? f->value : NULL;
}

size_t rd_upload_field_len(const rd_upload *u, const char *name)
{
    const field *f = find_field(u, name);
    return f ? f->len : 0;
}

size_t rd_upload_field_all(const rd_upload *u, const char *name, const char **values, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < u->nfields && n < max; i++)
        if (strcmp(u->fields[i].name, name) == 0) values[n++] = u->fields[i].value;
    return n;
}

const char *rd_upload_raw(const rd_upload *u, size_t *len)
{
    if (u->kind != BODY_RAW || !u->raw) {
        *len = 0;
        return NULL;
    }
    *len = u->raw_len;
    return u->raw;
}

int rd_upload_has_file(const rd_upload *u)
{
    return u->has_file;
}

const char *rd_upload_file_path(const rd_upload *u)
{
    return u->file_path;
}

const char *rd_upload_file_name(const rd_upload *u)
{
    return u->file_name;
}

uint64_t rd_upload_file_bytes(const rd_upload *u)
{
    return u->file_bytes;
}

int rd_upload_keep_file(rd_upload *u, const char *dest)
{
    if (!u->file_path || u->fd < 0)
        return rt_error(RT_ERR_INTERNAL, "the upload holds no spool file");
    if (fsync(u->fd) != 0)
        return rt_error(RT_ERR_IO, "cannot flush the upload to disk: %s", strerror(errno));
    close(u->fd);
    u->fd = -1;
    if (rename(u->file_path, dest) != 0)
        return rt_error(RT_ERR_IO, "cannot move the upload into the job folder: %s",
                        strerror(errno));
    free(u->file_path);
    u->file_path = NULL;
    release_budget(u); /* the job's file now, no longer the spool's */
    /* The new name on disk too: the folder holding dest. */
    char folder[4096];
    snprintf(folder, sizeof folder, "%s", dest);
    char *slash = strrchr(folder, '/');
    if (slash && slash != folder) *slash = '\0';
    int fd = open(slash ? folder : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        return rt_error(RT_ERR_IO, "cannot flush the job folder: %s", strerror(e));
    }
    close(fd);
    return 0;
}
