/* libFuzzer target for retouchd's request bodies: the streaming multipart
 * parser, the urlencoded decoder, the upload that ties them to fields and a
 * file, and the header parameter parser.  Any bytes must give either parsed
 * fields or an error with a message: never a crash, leak or undefined
 * behaviour.  Two oracles beyond "no crash":
 *   - differential: the same body fed whole and fed in small pieces parses to
 *     exactly the same fields, file size, file name and error code;
 *   - file names: what a client sends as a file name always comes out
 *     without '/', '\', control characters or invalid UTF-8.
 * Input layout: byte 0 chooses the mode; for bodies, byte 1 is the boundary
 * length L, the next L bytes the boundary, the next byte the piece size,
 * and the rest the body.  See tests/fuzz/run.
 */
#include "core/error.h"
#include "server/multipart.h"
#include "server/upload.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const rd_upload_limits limits = {.max_file_bytes = 8192,
                                        .max_field_bytes = 2048,
                                        .max_fields_bytes = 8192,
                                        .max_discard_bytes = 1 << 20};

/* What an upload parsed to, as one comparable string. */
typedef struct summary {
    char text[16384];
    size_t len;
} summary;

static void add(summary *s, const char *data, size_t len)
{
    if (s->len + len > sizeof s->text)
        len = sizeof s->text - s->len;
    memcpy(s->text + s->len, data, len);
    s->len += len;
}

static void check_name(const char *name)
{
    const unsigned char *s = (const unsigned char *)name;
    if (!*s)
        abort(); /* "image" when nothing is left */
    for (; *s; s++)
        if (*s == '/' || *s == '\\' || *s < 0x20 || *s == 0x7f || *s == '"')
            abort();
}

static void run(const char *ctype, const uint8_t *body, size_t len, size_t piece, summary *out)
{
    rd_upload *u = NULL;
    if (rd_upload_create(ctype, NULL, &limits, &u))
        abort(); /* only out of memory fails here */
    int closed = 0;
    for (size_t i = 0; i < len && !closed; i += piece)
        closed = rd_upload_feed(u, (const char *)body + i, len - i < piece ? len - i : piece) != 0;
    int err = closed ? 1 : rd_upload_finish(u);
    if (err < 0 && rt_error_message()[0] == '\0')
        abort(); /* every failure explains itself */
    char buf[128];
    int n = snprintf(buf, sizeof buf, "err=%d;", err);
    add(out, buf, (size_t)n);
    if (rd_upload_has_file(u))
        check_name(rd_upload_file_name(u));
    /* After an error only the code is compared: how much of a part was taken
     * before a limit hit depends on the pieces. */
    if (!err) {
        n = snprintf(buf, sizeof buf, "file=%d bytes=%llu;", rd_upload_has_file(u),
                     (unsigned long long)rd_upload_file_bytes(u));
        add(out, buf, (size_t)n);
        if (rd_upload_has_file(u))
            add(out, rd_upload_file_name(u), strlen(rd_upload_file_name(u)));
    }
    static const char *const names[] = {"token", "payload", "hook", "retouchtoken", "modes[]"};
    for (size_t i = 0; !err && i < sizeof names / sizeof *names; i++) {
        const char *v = rd_upload_field(u, names[i]);
        if (v) {
            add(out, names[i], strlen(names[i]));
            add(out, v, rd_upload_field_len(u, names[i]));
        }
    }
    size_t raw_len = 0;
    const char *raw = rd_upload_raw(u, &raw_len);
    if (raw && raw[raw_len] != '\0')
        abort();
    rd_upload_destroy(u);
}

static summary whole, pieces;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0] % 4;
    data++;
    size--;
    if (mode == 3) {
        /* A header value: Content-Disposition or Content-Type parameters. */
        char header[1024], out[256], cleaned[256];
        size_t n = size < sizeof header - 1 ? size : sizeof header - 1;
        memcpy(header, data, n);
        header[n] = '\0';
        if (rd_mp_header_param(header, "filename", out, sizeof out) > 0) {
            rd_clean_filename(out, cleaned, sizeof cleaned);
            check_name(cleaned);
        }
        char boundary[RD_MP_MAX_BOUNDARY + 1];
        if (rd_mp_boundary(header, boundary, sizeof boundary) == 0 &&
            (!boundary[0] || strlen(boundary) > RD_MP_MAX_BOUNDARY))
            abort();
        return 0;
    }
    if (size < 2)
        return 0;
    size_t blen = data[0] % 72;
    if (size < 2 + blen)
        return 0;
    char ctype[160];
    if (mode == 2)
        snprintf(ctype, sizeof ctype, "%s",
                 blen % 2 ? "application/x-www-form-urlencoded" : "application/json");
    else
        snprintf(ctype, sizeof ctype, "multipart/form-data; boundary=\"%.*s\"", (int)blen,
                 (const char *)data + 1);
    size_t piece = 1 + data[1 + blen] % 17;
    const uint8_t *body = data + 2 + blen;
    size_t len = size - 2 - blen;
    whole.len = pieces.len = 0;
    run(ctype, body, len, len ? len : 1, &whole);
    run(ctype, body, len, piece, &pieces);
    if (whole.len != pieces.len || memcmp(whole.text, pieces.text, whole.len) != 0) {
        fprintf(stderr, "whole:  %.*s\npieces: %.*s\n", (int)whole.len, whole.text,
                (int)pieces.len, pieces.text);
        abort();
    }
    return 0;
}
