/* Replies of route handlers (see reply.h). */
#include "server/reply.h"

#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *rd_request_header(const rd_request *req, const char *name)
{
    return req->header ? req->header(req->transport, name) : NULL;
}

void rd_reply_init(rd_reply *r)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    r->status = 500;
}

void rd_reply_clear(rd_reply *r)
{
    free(r->body);
    free(r->disposition);
    if (r->fd >= 0) close(r->fd);
    rd_reply_init(r);
}

static void set_body(rd_reply *r, int status, const char *ctype, char *body, size_t len)
{
    free(r->body);
    r->status = status;
    snprintf(r->content_type, sizeof r->content_type, "%s", ctype);
    r->body = body;
    r->body_len = len;
}

void rd_reply_json(rd_reply *r, int status, json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(obj);
    if (!text) {
        /* Out of memory, or a string that is not UTF-8: still answer JSON. */
        static const char fallback[] = "{\"status\":500,\"message\":\"internal error: cannot "
                                       "encode the answer\"}";
        text = strdup(fallback);
        status = 500;
    }
    set_body(r, status, "application/json; charset=utf-8", text, text ? strlen(text) : 0);
}

static void status_body(rd_reply *r, int status, const char *message)
{
    json_t *msg = json_string(message);
    if (!msg) /* the message quoted bytes that are not UTF-8 */
        msg = json_string("the request holds text that is not valid UTF-8");
    rd_reply_json(r, status, json_pack("{s:i, s:o}", "status", status, "message", msg));
}

static void error_body(rd_reply *r, int err, const char *message)
{
    status_body(r, rt_error_http_status(err), message);
}

void rd_reply_status(rd_reply *r, int status, int retry_after_s, const char *message)
{
    status_body(r, status, message);
    r->retry_after_s = retry_after_s;
}

int rd_reply_error(rd_reply *r, int err, const char *fmt, ...)
{
    char message[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    error_body(r, err, message);
    return err;
}

int rd_reply_last_error(rd_reply *r, int err)
{
    const char *m = rt_error_message();
    error_body(r, err, m && *m ? m : "internal error");
    return err;
}

void rd_reply_text(rd_reply *r, int status, const char *content_type, const char *text)
{
    char *copy = strdup(text ? text : "");
    set_body(r, copy ? status : 500, content_type, copy, copy ? strlen(copy) : 0);
}

int rd_reply_file(rd_reply *r, int fd, const char *content_type)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return rt_error(RT_ERR_IO, "cannot read the result file");
    }
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
    if (r->fd >= 0) close(r->fd);
    r->fd = fd;
    r->fd_size = (uint64_t)st.st_size;
    r->status = 200;
    snprintf(r->content_type, sizeof r->content_type, "%s", content_type);
    return 0;
}

char *rd_content_disposition(const char *filename)
{
    size_t len = strlen(filename);
    int ascii = 1;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)filename[i] >= 0x80 || (unsigned char)filename[i] < 0x20 ||
            filename[i] == '"' || filename[i] == '\\')
            ascii = 0;
    /* worst case: each byte as %XX twice over, plus the fixed text */
    size_t cap = len * 4 + 96;
    char *out = malloc(cap);
    if (!out) return NULL;
    if (ascii) {
        snprintf(out, cap, "attachment; filename=\"%s\"", filename);
        return out;
    }
    /* filename: an ASCII stand-in; filename*: the real name (RFC 6266). */
    size_t n = (size_t)snprintf(out, cap, "attachment; filename=\"");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)filename[i];
        if ((c & 0xC0) == 0x80) /* a continuation byte: one '_' per character */
            continue;
        out[n++] = (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') ? (char)c : '_';
    }
    n += (size_t)snprintf(out + n, cap - n, "\"; filename*=UTF-8''");
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)filename[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("!#$&+-.^_`|~", c)) {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = '\0';
    return out;
}
