/* The streaming multipart/form-data parser (see multipart.h).
 *
 * The body is a sequence of parts separated by the delimiter
 * "\r\n--" BOUNDARY.  The search for the delimiter is Knuth-Morris-Pratt
 * over the byte stream, so a delimiter split across two network reads is
 * still found and no byte before it has to be held back except the ones
 * that matched: those are known (they are a prefix of the delimiter), so
 * when the match breaks they are re-emitted from the delimiter itself.
 * That is why the parser needs no look-behind buffer of the body.
 */
#include "server/multipart.h"

#include "core/error.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MP_OUT_BUFFER 32768
#define MP_DELIM_MAX (4 + RD_MP_MAX_BOUNDARY)

typedef enum mp_state {
    MP_PREAMBLE,    /* before the first boundary: bytes are dropped */
    MP_AFTER_DELIM, /* just after a delimiter: "--" ends the body, CRLF starts a part */
    MP_PADDING,     /* spaces after the delimiter, before CRLF */
    MP_DASH,        /* one '-' after the delimiter */
    MP_CR,          /* '\r' after the delimiter, '\n' must follow */
    MP_HEADERS,     /* a part's header block */
    MP_BODY,        /* a part's bytes */
    MP_END,         /* after the closing delimiter: the epilogue is dropped */
} mp_state;

struct rd_mp_parser {
    rd_mp_callbacks cb;
    void *user;
    char delim[MP_DELIM_MAX + 1];
    size_t delim_len;
    size_t fail[MP_DELIM_MAX]; /* KMP failure function of delim */
    size_t matched;            /* bytes of delim matched so far */
    mp_state state;
    int err;
    int parts;
    char header[RD_MP_MAX_HEADER];
    size_t header_len;
    size_t line_start;
    char out[MP_OUT_BUFFER];
    size_t out_len;
    char name[1024];
    char filename[1024];
    char content_type[256];
};

/* ---- header parameters ----------------------------------------------- */

static int hex_value(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Appends byte c to out (cap includes the terminator); -1 when full. */
static int put_byte(char *out, size_t cap, size_t *n, unsigned char c)
{
    if (*n + 1 >= cap) return -1;
    out[(*n)++] = (char)c;
    return 0;
}

/* RFC 8187 ext-value: charset'language'percent-encoded.  ISO-8859-1 bytes are
 * widened to UTF-8; other charsets are taken as UTF-8 (what clients send). */
static int decode_ext_value(const char *v, size_t len, char *out, size_t cap)
{
    const char *q1 = memchr(v, '\'', len);
    if (!q1) return 0;
    const char *q2 = memchr(q1 + 1, '\'', len - (size_t)(q1 + 1 - v));
    if (!q2) return 0;
    size_t charset_len = (size_t)(q1 - v);
    int latin1 = (charset_len == 10 && strncasecmp(v, "iso-8859-1", 10) == 0);
    size_t n = 0;
    for (const char *s = q2 + 1; s < v + len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '%' && s + 2 < v + len && hex_value(s[1]) >= 0 && hex_value(s[2]) >= 0) {
            c = (unsigned char)(hex_value(s[1]) * 16 + hex_value(s[2]));
            s += 2;
        }
        if (latin1 && c >= 0x80) {
            if (put_byte(out, cap, &n, (unsigned char)(0xC0 | (c >> 6))) ||
                put_byte(out, cap, &n, (unsigned char)(0x80 | (c & 0x3F))))
                return -1;
        } else if (put_byte(out, cap, &n, c)) {
            return -1;
        }
    }
    out[n] = '\0';
    return 1;
}

int rd_mp_header_param(const char *header, const char *key, char *out, size_t cap)
{
    if (!cap) return RT_ERR_ARG;
    size_t key_len = strlen(key);
    int found = 0, found_ext = 0;
    const char *s = header;
    /* Skip the leading value ("form-data", "multipart/form-data"). */
    int in_quotes = 0;
    while (*s && (in_quotes || *s != ';')) {
        if (*s == '"') in_quotes = !in_quotes;
        s++;
    }
    while (*s) {
        while (*s == ';' || *s == ' ' || *s == '\t')
            s++;
        const char *name = s;
        while (*s && *s != '=' && *s != ';')
            s++;
        const char *name_end = s;
        while (name_end > name && (name_end[-1] == ' ' || name_end[-1] == '\t'))
            name_end--;
        if (*s != '=') continue; /* a flag without a value */
        s++;
        while (*s == ' ' || *s == '\t')
            s++;
        size_t name_len = (size_t)(name_end - name);
        int is_key = name_len == key_len && strncasecmp(name, key, key_len) == 0;
        int is_ext =
            name_len == key_len + 1 && strncasecmp(name, key, key_len) == 0 && name[key_len] == '*';
        if (*s == '"') {
            /* Quoted string.  A backslash escapes only '"' and '\': browsers
             * send Windows paths ("C:\fakepath\a.jpg") unescaped. */
            s++;
            size_t n = 0;
            int overflow = 0;
            while (*s && *s != '"') {
                char c = *s++;
                if (c == '\\' && (*s == '"' || *s == '\\')) c = *s++;
                /* A plain value never overwrites an ext-value found before it. */
                if (((is_key && !found_ext) || is_ext) && put_byte(out, cap, &n, (unsigned char)c))
                    overflow = 1;
            }
            if (*s == '"') s++;
            if (is_key && !found_ext) {
                if (overflow) return RT_ERR_ARG;
                out[n] = '\0';
                found = 1;
            } else if (is_ext) {
                /* A quoted ext-value is not RFC 8187, but decode it anyway. */
                if (overflow) return RT_ERR_ARG;
                out[n] = '\0';
                char tmp[1024];
                if (n < sizeof tmp) {
                    memcpy(tmp, out, n + 1);
                    int r = decode_ext_value(tmp, n, out, cap);
                    if (r < 0) return RT_ERR_ARG;
                    if (r > 0) found = found_ext = 1;
                }
            }
        } else {
            const char *v = s;
            while (*s && *s != ';')
                s++;
            const char *v_end = s;
            while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t'))
                v_end--;
            size_t len = (size_t)(v_end - v);
            if (is_ext) {
                int r = decode_ext_value(v, len, out, cap);
                if (r < 0) return RT_ERR_ARG;
                if (r > 0) found = found_ext = 1;
            } else if (is_key && !found_ext) {
                if (len + 1 > cap) return RT_ERR_ARG;
                memcpy(out, v, len);
                out[len] = '\0';
                found = 1;
            }
        }
    }
    return found;
}

int rd_mp_boundary(const char *content_type, char *out, size_t cap)
{
    static const char type[] = "multipart/form-data";
    if (!content_type)
        return rt_error(RT_ERR_ARG, "no Content-Type: send the request as multipart/form-data");
    while (*content_type == ' ' || *content_type == '\t')
        content_type++;
    size_t n = sizeof type - 1;
    if (strncasecmp(content_type, type, n) != 0 ||
        (content_type[n] && content_type[n] != ';' && content_type[n] != ' '))
        return rt_error(RT_ERR_ARG,
                        "Content-Type is '%.100s': send the request as multipart/form-data",
                        content_type);
    int r = rd_mp_header_param(content_type, "boundary", out, cap);
    if (r <= 0 || !out[0])
        return rt_error(RT_ERR_ARG, "the multipart/form-data Content-Type has no usable boundary "
                                    "parameter (1 to 200 characters)");
    size_t len = strlen(out);
    if (len > RD_MP_MAX_BOUNDARY)
        return rt_error(RT_ERR_ARG, "the multipart boundary is longer than %d characters",
                        RD_MP_MAX_BOUNDARY);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
            return rt_error(RT_ERR_ARG, "the multipart boundary holds a control or non-ASCII "
                                        "character");
    return 0;
}

/* ---- the parser ------------------------------------------------------ */

int rd_mp_create(const char *boundary, const rd_mp_callbacks *callbacks, void *user,
                 rd_mp_parser **out)
{
    *out = NULL;
    size_t blen = strlen(boundary);
    if (blen == 0 || blen > RD_MP_MAX_BOUNDARY)
        return rt_error(RT_ERR_ARG, "the multipart boundary must be 1 to %d characters",
                        RD_MP_MAX_BOUNDARY);
    rd_mp_parser *p = calloc(1, sizeof *p);
    if (!p) return rt_error(RT_ERR_NOMEM, "out of memory");
    p->cb = *callbacks;
    p->user = user;
    memcpy(p->delim, "\r\n--", 4);
    memcpy(p->delim + 4, boundary, blen);
    p->delim_len = 4 + blen;
    p->delim[p->delim_len] = '\0';
    /* fail[i]: length of the longest proper prefix of delim[0..i] that is
     * also a suffix of it. */
    p->fail[0] = 0;
    for (size_t i = 1, k = 0; i < p->delim_len; i++) {
        while (k > 0 && p->delim[i] != p->delim[k])
            k = p->fail[k - 1];
        if (p->delim[i] == p->delim[k]) k++;
        p->fail[i] = k;
    }
    /* The first boundary may open the body without a CRLF before it: start
     * as if the CRLF had been seen. */
    p->matched = 2;
    p->state = MP_PREAMBLE;
    *out = p;
    return 0;
}

void rd_mp_destroy(rd_mp_parser *p)
{
    free(p);
}

static int fail_with(rd_mp_parser *p, int err)
{
    if (!p->err) p->err = err;
    return p->err;
}

static void flush_out(rd_mp_parser *p)
{
    if (p->out_len && !p->err) {
        int r = p->cb.part_data ? p->cb.part_data(p->user, p->out, p->out_len) : 0;
        if (r) fail_with(p, r);
    }
    p->out_len = 0;
}

static void emit(rd_mp_parser *p, const char *data, size_t len)
{
    while (len && !p->err) {
        if (p->out_len == sizeof p->out) flush_out(p);
        size_t n = sizeof p->out - p->out_len;
        if (n > len) n = len;
        memcpy(p->out + p->out_len, data, n);
        p->out_len += n;
        data += n;
        len -= n;
    }
}

/* Parses the header block of one part and announces the part. */
static void begin_part(rd_mp_parser *p, size_t block_len)
{
    if (++p->parts > RD_MP_MAX_PARTS) {
        fail_with(p, rt_error(RT_ERR_ARG,
                              "the multipart body has more than %d parts; send only "
                              "file, payload, token and hook",
                              RD_MP_MAX_PARTS));
        return;
    }
    p->name[0] = p->filename[0] = p->content_type[0] = '\0';
    int has_filename = 0;
    char line[RD_MP_MAX_HEADER + 1];
    size_t i = 0;
    while (i < block_len) {
        size_t start = i;
        while (i < block_len && p->header[i] != '\n')
            i++;
        size_t end = i;
        i++; /* past '\n' */
        if (end > start && p->header[end - 1] == '\r') end--;
        size_t len = end - start;
        memcpy(line, p->header + start, len);
        line[len] = '\0';
        if (memchr(line, '\0', len)) /* a NUL inside a header: not text */
            continue;
        char *colon = strchr(line, ':');
        if (!colon) continue;
        *colon = '\0';
        char *value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        if (strcasecmp(line, "Content-Disposition") == 0) {
            int r = rd_mp_header_param(value, "name", p->name, sizeof p->name);
            if (r < 0) {
                fail_with(p, rt_error(RT_ERR_ARG,
                                      "a multipart field name is longer than %zu "
                                      "bytes",
                                      sizeof p->name - 1));
                return;
            }
            r = rd_mp_header_param(value, "filename", p->filename, sizeof p->filename);
            if (r < 0) {
                fail_with(p, rt_error(RT_ERR_ARG,
                                      "the file name is longer than %zu bytes; "
                                      "send a shorter name",
                                      sizeof p->filename - 1));
                return;
            }
            has_filename = r > 0;
        } else if (strcasecmp(line, "Content-Type") == 0) {
            size_t n = strlen(value);
            if (n >= sizeof p->content_type) n = sizeof p->content_type - 1;
            memcpy(p->content_type, value, n);
            p->content_type[n] = '\0';
        }
    }
    rd_mp_part part = {.name = p->name,
                       .filename = has_filename ? p->filename : NULL,
                       .content_type = p->content_type};
    int r = p->cb.part_begin ? p->cb.part_begin(p->user, &part) : 0;
    if (r) fail_with(p, r);
    p->state = MP_BODY;
    p->matched = 0;
}

/* Scans for the delimiter in PREAMBLE or BODY state from data[i]; returns
 * the index after the bytes consumed. */
static size_t scan(rd_mp_parser *p, const char *data, size_t i, size_t len)
{
    const char *d = p->delim;
    const int emitting = p->state == MP_BODY;
    while (i < len && !p->err) {
        if (p->matched == 0) {
            /* The delimiter starts with '\r': jump to the next one. */
            const char *cr = memchr(data + i, '\r', len - i);
            size_t stop = cr ? (size_t)(cr - data) : len;
            if (emitting && stop > i) emit(p, data + i, stop - i);
            i = stop;
            if (!cr) break;
        }
        char c = data[i];
        while (p->matched > 0 && d[p->matched] != c) {
            size_t keep = p->fail[p->matched - 1];
            if (emitting) emit(p, d, p->matched - keep);
            p->matched = keep;
        }
        i++;
        if (d[p->matched] != c) {
            if (emitting) emit(p, &c, 1);
            continue;
        }
        if (++p->matched < p->delim_len) continue;
        p->matched = 0;
        if (emitting) {
            flush_out(p);
            int r = !p->err && p->cb.part_end ? p->cb.part_end(p->user) : 0;
            if (r) fail_with(p, r);
        }
        p->state = MP_AFTER_DELIM;
        break;
    }
    return i;
}

static void start_headers(rd_mp_parser *p)
{
    p->state = MP_HEADERS;
    p->header_len = 0;
    p->line_start = 0;
}

static int malformed(rd_mp_parser *p, const char *what)
{
    return fail_with(p, rt_error(RT_ERR_ARG,
                                 "malformed multipart body: %s; send "
                                 "multipart/form-data as RFC 7578 describes",
                                 what));
}

int rd_mp_feed(rd_mp_parser *p, const char *data, size_t len)
{
    size_t i = 0;
    while (i < len && !p->err) {
        char c;
        switch (p->state) {
        case MP_PREAMBLE:
        case MP_BODY:
            i = scan(p, data, i, len);
            break;
        case MP_AFTER_DELIM:
        case MP_PADDING:
            c = data[i++];
            if (c == '-' && p->state == MP_AFTER_DELIM)
                p->state = MP_DASH;
            else if (c == '\r')
                p->state = MP_CR;
            else if (c == '\n')
                start_headers(p); /* a bare LF: tolerated */
            else if (c == ' ' || c == '\t')
                p->state = MP_PADDING;
            else
                malformed(p, "a boundary line is followed by something other than CRLF or "
                             "'--'");
            break;
        case MP_DASH:
            if (data[i++] == '-')
                p->state = MP_END;
            else
                malformed(p, "a boundary is followed by a single '-'");
            break;
        case MP_CR:
            if (data[i++] == '\n')
                start_headers(p);
            else
                malformed(p, "a boundary line ends in CR without LF");
            break;
        case MP_HEADERS:
            while (i < len && p->state == MP_HEADERS && !p->err) {
                if (p->header_len == sizeof p->header) {
                    fail_with(p, rt_error(RT_ERR_ARG,
                                          "a multipart part has more than %d bytes "
                                          "of headers",
                                          RD_MP_MAX_HEADER));
                    break;
                }
                c = data[i++];
                p->header[p->header_len++] = c;
                if (c != '\n') continue;
                size_t line_len = p->header_len - p->line_start;
                if (line_len == 1 || (line_len == 2 && p->header[p->line_start] == '\r'))
                    begin_part(p, p->line_start); /* an empty line ends the block */
                else
                    p->line_start = p->header_len;
            }
            break;
        case MP_END:
            i = len;
            break;
        }
    }
    if (p->state == MP_BODY && !p->err)
        flush_out(p); /* hand each read to the consumer now: limits act while streaming */
    return p->err;
}

int rd_mp_finish(rd_mp_parser *p)
{
    if (p->err) return p->err;
    if (p->state == MP_END) return 0;
    if (p->state == MP_PREAMBLE)
        return fail_with(p, rt_error(RT_ERR_ARG, "the multipart body holds no part: the boundary "
                                                 "from the Content-Type header never appears"));
    return fail_with(p, rt_error(RT_ERR_ARG, "the upload ended before the closing multipart "
                                             "boundary: the body is truncated; send it again"));
}
