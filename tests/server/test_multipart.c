/* Unit tests of the streaming multipart parser, the urlencoded decoder, the
 * upload (fields, spool file, limits, file names) and the router: the
 * self-contained pieces of retouchd, driven without a server. */
#include "core/error.h"
#include "server/form.h"
#include "server/multipart.h"
#include "server/router.h"
#include "server/upload.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a recording consumer ---------------------------------------------- */

typedef struct recorded {
    int parts;
    char names[8][64];
    char filenames[8][256];
    int has_filename[8];
    char types[8][64];
    char data[8][4096];
    size_t len[8];
    int ended[8];
} recorded;

static int rec_begin(void *user, const rd_mp_part *p)
{
    recorded *r = user;
    int i = r->parts++;
    assert_true(i < 8);
    snprintf(r->names[i], sizeof r->names[i], "%s", p->name);
    r->has_filename[i] = p->filename != NULL;
    snprintf(r->filenames[i], sizeof r->filenames[i], "%s", p->filename ? p->filename : "");
    snprintf(r->types[i], sizeof r->types[i], "%s", p->content_type);
    return 0;
}

static int rec_data(void *user, const char *d, size_t n)
{
    recorded *r = user;
    int i = r->parts - 1;
    assert_true(r->len[i] + n <= sizeof r->data[i]);
    memcpy(r->data[i] + r->len[i], d, n);
    r->len[i] += n;
    return 0;
}

static int rec_end(void *user)
{
    recorded *r = user;
    r->ended[r->parts - 1] = 1;
    return 0;
}

static const rd_mp_callbacks rec_callbacks = {rec_begin, rec_data, rec_end};

/* Feeds body in pieces of `step` bytes (0: all at once). */
static int parse(const char *boundary, const char *body, size_t len, size_t step, recorded *r)
{
    memset(r, 0, sizeof *r);
    rd_mp_parser *p;
    assert_int_equal(rd_mp_create(boundary, &rec_callbacks, r, &p), 0);
    int err = 0;
    if (!step) step = len ? len : 1;
    for (size_t i = 0; i < len && !err; i += step)
        err = rd_mp_feed(p, body + i, len - i < step ? len - i : step);
    if (!err) err = rd_mp_finish(p);
    rd_mp_destroy(p);
    return err;
}

static const char body3[] =
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"token\"\r\n"
    "\r\n"
    "abc\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"a b.jpg\"\r\n"
    "Content-Type: image/jpeg\r\n"
    "\r\n"
    "\xff\xd8\r\n--X\r\n--XyY\r\r\n\xff\xd9\r\n"
    "--XyZ\r\n"
    "content-disposition: form-data; name=payload\r\n"
    "\r\n"
    "{}\r\n"
    "--XyZ--\r\n"
    "epilogue ignored";

static void check_body3(const recorded *r)
{
    assert_int_equal(r->parts, 3);
    assert_string_equal(r->names[0], "token");
    assert_false(r->has_filename[0]);
    assert_int_equal(r->len[0], 3);
    assert_memory_equal(r->data[0], "abc", 3);
    assert_string_equal(r->names[1], "file");
    assert_string_equal(r->filenames[1], "a b.jpg");
    assert_string_equal(r->types[1], "image/jpeg");
    /* Near-delimiters inside the data are data. */
    static const char file_data[] = "\xff\xd8\r\n--X\r\n--XyY\r\r\n\xff\xd9";
    assert_int_equal(r->len[1], sizeof file_data - 1);
    assert_memory_equal(r->data[1], file_data, sizeof file_data - 1);
    assert_string_equal(r->names[2], "payload");
    assert_memory_equal(r->data[2], "{}", 2);
    for (int i = 0; i < 3; i++)
        assert_true(r->ended[i]);
}

static void test_parts_any_split(void **state)
{
    (void)state;
    recorded r;
    /* Every piece size, so a delimiter split anywhere is still found. */
    for (size_t step = 0; step <= sizeof body3; step++) {
        assert_int_equal(parse("XyZ", body3, sizeof body3 - 1, step, &r), 0);
        check_body3(&r);
    }
}

static void test_preamble_and_leading_crlf(void **state)
{
    (void)state;
    static const char body[] = "preamble text\r\n--b\r\nContent-Disposition: form-data; "
                               "name=\"x\"\r\n\r\n1\r\n--b--";
    recorded r;
    assert_int_equal(parse("b", body, sizeof body - 1, 0, &r), 0);
    assert_int_equal(r.parts, 1);
    assert_memory_equal(r.data[0], "1", 1);
    static const char body2[] = "\r\n--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n"
                                "\r\n--b--\r\n";
    assert_int_equal(parse("b", body2, sizeof body2 - 1, 1, &r), 0);
    assert_int_equal(r.parts, 1);
    assert_int_equal(r.len[0], 0);
}

static void test_filename_forms(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(rd_mp_header_param("form-data; name=\"file\"; filename=\"r\\\"x.jpg\"",
                                        "filename", out, sizeof out),
                     1);
    assert_string_equal(out, "r\"x.jpg");
    /* Windows paths from old browsers: backslashes are not escapes. */
    assert_int_equal(rd_mp_header_param("form-data; filename=\"C:\\fakepath\\p.jpg\"", "filename",
                                        out, sizeof out),
                     1);
    assert_string_equal(out, "C:\\fakepath\\p.jpg");
    /* filename* wins, whatever the order, and is UTF-8 decoded. */
    assert_int_equal(rd_mp_header_param("form-data; name=file; filename*=UTF-8''%C3%A9t%C3%A9."
                                        "jpg; filename=\"ete.jpg\"",
                                        "filename", out, sizeof out),
                     1);
    assert_string_equal(out, "\xc3\xa9t\xc3\xa9.jpg");
    assert_int_equal(rd_mp_header_param("form-data; filename=\"x.jpg\"; "
                                        "filename*=iso-8859-1'en'%E9.jpg",
                                        "filename", out, sizeof out),
                     1);
    assert_string_equal(out, "\xc3\xa9.jpg");
    /* Raw UTF-8 in a quoted name passes through. */
    assert_int_equal(rd_mp_header_param("form-data; filename=\"\xd1\x84\xd0\xbe\xd1\x82\xd0\xbe."
                                        "jpg\"",
                                        "filename", out, sizeof out),
                     1);
    assert_string_equal(out, "\xd1\x84\xd0\xbe\xd1\x82\xd0\xbe.jpg");
    assert_int_equal(rd_mp_header_param("form-data; name=\"a\"", "filename", out, sizeof out), 0);
    char small[4];
    assert_true(
        rd_mp_header_param("form-data; filename=\"toolong\"", "filename", small, sizeof small) < 0);
}

static void test_boundary_header(void **state)
{
    (void)state;
    char b[256];
    assert_int_equal(
        rd_mp_boundary("multipart/form-data; boundary=----WebKitFormBoundaryQ", b, sizeof b), 0);
    assert_string_equal(b, "----WebKitFormBoundaryQ");
    assert_int_equal(rd_mp_boundary("Multipart/Form-Data;boundary=\"a b:c\"", b, sizeof b), 0);
    assert_string_equal(b, "a b:c");
    assert_int_equal(rd_mp_boundary("multipart/form-data", b, sizeof b), RT_ERR_ARG);
    assert_int_equal(rd_mp_boundary("application/json", b, sizeof b), RT_ERR_ARG);
    assert_int_equal(rd_mp_boundary(NULL, b, sizeof b), RT_ERR_ARG);
    assert_int_equal(rd_mp_boundary("multipart/form-data; boundary=\"\"", b, sizeof b), RT_ERR_ARG);
}

static void test_malformed_bodies(void **state)
{
    (void)state;
    recorded r;
    static const char truncated[] = "--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n"
                                    "half of an image";
    assert_int_equal(parse("b", truncated, sizeof truncated - 1, 3, &r), RT_ERR_ARG);
    assert_non_null(strstr(rt_error_message(), "truncated"));
    static const char no_boundary[] = "just some bytes";
    assert_int_equal(parse("b", no_boundary, sizeof no_boundary - 1, 0, &r), RT_ERR_ARG);
    static const char bad_line[] = "--bX\r\n\r\n";
    assert_int_equal(parse("b", bad_line, sizeof bad_line - 1, 0, &r), RT_ERR_ARG);
    /* Endless headers are cut off. */
    size_t n = RD_MP_MAX_HEADER + 64;
    char *big = malloc(n);
    memcpy(big, "--b\r\n", 5);
    memset(big + 5, 'h', n - 5);
    assert_int_equal(parse("b", big, n, 1000, &r), RT_ERR_ARG);
    free(big);
    /* Too many parts. */
    size_t cap = (RD_MP_MAX_PARTS + 2) * 64;
    char *many = malloc(cap);
    size_t len = 0;
    for (int i = 0; i < RD_MP_MAX_PARTS + 1; i++)
        len += (size_t)snprintf(many + len, cap - len,
                                "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n");
    len += (size_t)snprintf(many + len, cap - len, "--b--");
    memset(&r, 0, sizeof r);
    rd_mp_parser *p;
    static const rd_mp_callbacks none = {NULL, NULL, NULL};
    assert_int_equal(rd_mp_create("b", &none, NULL, &p), 0);
    assert_int_equal(rd_mp_feed(p, many, len), RT_ERR_ARG);
    rd_mp_destroy(p);
    free(many);
}

static int fail_data(void *user, const char *d, size_t n)
{
    (void)user;
    (void)d;
    (void)n;
    return rt_error(RT_ERR_TOO_BIG, "stop");
}

static void test_callback_error_sticks(void **state)
{
    (void)state;
    rd_mp_callbacks cb = {NULL, fail_data, NULL};
    rd_mp_parser *p;
    assert_int_equal(rd_mp_create("XyZ", &cb, NULL, &p), 0);
    assert_int_equal(rd_mp_feed(p, body3, sizeof body3 - 1), RT_ERR_TOO_BIG);
    assert_int_equal(rd_mp_feed(p, "more", 4), RT_ERR_TOO_BIG);
    assert_int_equal(rd_mp_finish(p), RT_ERR_TOO_BIG);
    rd_mp_destroy(p);
}

/* ---- form ------------------------------------------------------------ */

typedef struct pairs {
    int n;
    char name[4][32], value[4][32];
} pairs;

static int add_pair(void *user, const char *name, const char *value, size_t len)
{
    pairs *p = user;
    assert_true(p->n < 4);
    snprintf(p->name[p->n], 32, "%s", name);
    snprintf(p->value[p->n], 32, "%.*s", (int)len, value);
    p->n++;
    return 0;
}

static void test_urlencoded(void **state)
{
    (void)state;
    static const char body[] = "retouchtoken=rt_a%2Bb&modes%5B%5D=professional&&flag&x=a+b%zz";
    pairs p = {0};
    assert_int_equal(rd_form_parse(body, sizeof body - 1, add_pair, &p), 0);
    assert_int_equal(p.n, 4);
    assert_string_equal(p.name[0], "retouchtoken");
    assert_string_equal(p.value[0], "rt_a+b");
    assert_string_equal(p.name[1], "modes[]");
    assert_string_equal(p.value[1], "professional");
    assert_string_equal(p.name[2], "flag");
    assert_string_equal(p.value[2], "");
    assert_string_equal(p.value[3], "a b%zz");
}

/* ---- upload ------------------------------------------------------------ */

static char spool[256];

static int count_spool_files(void)
{
    DIR *d = opendir(spool);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static int setup_spool(void **state)
{
    (void)state;
    snprintf(spool, sizeof spool, "/tmp/rd-test-spool-XXXXXX");
    return mkdtemp(spool) ? 0 : -1;
}

static int teardown_spool(void **state)
{
    (void)state;
    return rmdir(spool);
}

static const rd_upload_limits limits = {.max_file_bytes = 100,
                                        .max_field_bytes = 16,
                                        .max_fields_bytes = 48,
                                        .max_discard_bytes = 1000};

static rd_upload *upload_of(const char *ct, const char *body, size_t len, size_t step, int *err)
{
    rd_upload *u;
    assert_int_equal(rd_upload_create(ct, spool, &limits, &u), 0);
    *err = 0;
    for (size_t i = 0; i < len; i += step)
        assert_int_equal(rd_upload_feed(u, body + i, len - i < step ? len - i : step), 0);
    *err = rd_upload_finish(u);
    return u;
}

static void test_upload_fields_and_file(void **state)
{
    (void)state;
    int err;
    rd_upload *u = upload_of("multipart/form-data; boundary=XyZ", body3, sizeof body3 - 1, 7, &err);
    assert_int_equal(err, 0);
    assert_string_equal(rd_upload_field(u, "token"), "abc");
    assert_string_equal(rd_upload_field(u, "payload"), "{}");
    assert_null(rd_upload_field(u, "hook"));
    assert_true(rd_upload_has_file(u));
    assert_string_equal(rd_upload_file_name(u), "a b.jpg");
    assert_int_equal(rd_upload_file_bytes(u), 19);
    /* The spool file holds exactly the part's bytes. */
    FILE *f = fopen(rd_upload_file_path(u), "rb");
    assert_non_null(f);
    char buf[64];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_int_equal(n, 19);
    assert_memory_equal(buf, "\xff\xd8\r\n--X\r\n--XyY\r\r\n\xff\xd9", 19);
    assert_int_equal(count_spool_files(), 1);
    char dest[300];
    snprintf(dest, sizeof dest, "%s/kept", spool);
    assert_int_equal(rd_upload_keep_file(u, dest), 0);
    rd_upload_destroy(u);
    assert_int_equal(access(dest, F_OK), 0); /* kept files survive the upload */
    unlink(dest);
    assert_int_equal(count_spool_files(), 0);
}

static void test_upload_limits(void **state)
{
    (void)state;
    char body[1024];
    int len = snprintf(body, sizeof body,
                       "--b\r\nContent-Disposition: form-data; name=\"file\"; "
                       "filename=\"x\"\r\n\r\n%0120d\r\n--b--",
                       0);
    int err;
    rd_upload *u = upload_of("multipart/form-data; boundary=b", body, (size_t)len, 10, &err);
    assert_int_equal(err, RT_ERR_TOO_BIG);
    assert_non_null(strstr(rt_error_message(), "larger than"));
    rd_upload_destroy(u);
    assert_int_equal(count_spool_files(), 0); /* refused uploads leave nothing */

    len = snprintf(body, sizeof body,
                   "--b\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n"
                   "0123456789abcdefX\r\n--b--");
    u = upload_of("multipart/form-data; boundary=b", body, (size_t)len, 5, &err);
    assert_int_equal(err, RT_ERR_TOO_BIG);
    assert_non_null(strstr(rt_error_message(), "payload"));
    rd_upload_destroy(u);

    /* After an error the body is dropped, up to max_discard_bytes. */
    assert_int_equal(rd_upload_create("multipart/form-data; boundary=b", spool, &limits, &u), 0);
    assert_int_equal(rd_upload_feed(u, "--bX", 4), 0); /* malformed: recorded */
    char junk[400] = {0};
    assert_int_equal(rd_upload_feed(u, junk, sizeof junk), 0);
    assert_int_equal(rd_upload_feed(u, junk, sizeof junk), 0);
    assert_int_equal(rd_upload_feed(u, junk, sizeof junk), RT_ERR_TOO_BIG);
    rd_upload_destroy(u);

    /* Two files are refused. */
    len = snprintf(body, sizeof body,
                   "--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n1\r\n"
                   "--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n2\r\n--b--");
    u = upload_of("multipart/form-data; boundary=b", body, (size_t)len, 100, &err);
    assert_int_equal(err, RT_ERR_ARG);
    rd_upload_destroy(u);
    assert_int_equal(count_spool_files(), 0);
}

/* The spool budget (issue 14 item 2): image bytes before a valid token are
 * capped, a token first lifts the cap, the total cap gives 507, and every
 * byte is given back when the upload goes. */
static int token_is_good(void *user, const rd_upload *u)
{
    (*(int *)user)++;
    const char *t = rd_upload_field(u, "token");
    return t && strcmp(t, "good") == 0;
}

static rd_upload *budget_upload(rd_spool_budget *b, int *asked, const char *body, int *err)
{
    rd_upload_limits lim = limits;
    lim.budget = b;
    lim.authorize = token_is_good;
    lim.authorize_user = asked;
    rd_upload *u;
    assert_int_equal(rd_upload_create("multipart/form-data; boundary=b", spool, &lim, &u), 0);
    size_t len = strlen(body);
    for (size_t i = 0; i < len; i += 4) /* small pieces: the budget is asked often */
        assert_int_equal(rd_upload_feed(u, body + i, len - i < 4 ? len - i : 4), 0);
    *err = rd_upload_finish(u);
    return u;
}

static void test_spool_budget(void **state)
{
    (void)state;
    static const char file_first[] =
        "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n"
        "0123456789012345678901234567890123456789\r\n"
        "--b\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\ngood\r\n--b--\r\n";
    static const char token_first[] =
        "--b\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\ngood\r\n"
        "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n"
        "0123456789012345678901234567890123456789\r\n--b--\r\n";
    rd_spool_budget b = {.max_total = 1000, .max_unauth = 16};
    int asked = 0, err;
    /* 40 file bytes before any token: over the 16-byte cap, refused, and
     * the spool file is gone at once. */
    rd_upload *u = budget_upload(&b, &asked, file_first, &err);
    assert_int_equal(err, RT_ERR_AUTH);
    assert_int_equal(rd_upload_error_status(u), 0);
    assert_int_equal(count_spool_files(), 0);
    assert_int_equal(atomic_load(&b.unauth), 0);
    assert_int_equal(atomic_load(&b.used), 0);
    assert_int_equal(asked, 0); /* no field yet: nothing to ask */
    rd_upload_destroy(u);
    /* The token first: asked once, then trusted; the file is kept. */
    u = budget_upload(&b, &asked, token_first, &err);
    assert_int_equal(err, 0);
    assert_int_equal(asked, 1);
    assert_int_equal(rd_upload_file_bytes(u), 40);
    assert_int_equal(atomic_load(&b.used), 40);
    assert_int_equal(atomic_load(&b.unauth), 0);
    rd_upload_destroy(u);
    assert_int_equal(atomic_load(&b.used), 0);
    assert_int_equal(count_spool_files(), 0);
    /* The total cap: 507, spool file gone. */
    b.max_total = 20;
    u = budget_upload(&b, &asked, token_first, &err);
    assert_int_equal(err, RT_ERR_IO);
    assert_int_equal(rd_upload_error_status(u), 507);
    assert_int_equal(count_spool_files(), 0);
    assert_int_equal(atomic_load(&b.used), 0);
    rd_upload_destroy(u);
}

static void test_upload_other_bodies(void **state)
{
    (void)state;
    int err;
    static const char form[] = "retouchtoken=t1&modes%5B%5D=pro&modes%5B%5D=x";
    rd_upload *u = upload_of("application/x-www-form-urlencoded", form, sizeof form - 1, 4, &err);
    assert_int_equal(err, 0);
    assert_string_equal(rd_upload_field(u, "retouchtoken"), "t1");
    const char *modes[4];
    assert_int_equal(rd_upload_field_all(u, "modes[]", modes, 4), 2);
    assert_string_equal(modes[1], "x");
    assert_false(rd_upload_has_file(u));
    rd_upload_destroy(u);

    static const char json[] = "{\"modes\":[\"professional\"]}";
    u = upload_of("application/json", json, sizeof json - 1, 3, &err);
    assert_int_equal(err, 0);
    size_t len;
    assert_string_equal(rd_upload_raw(u, &len), json);
    rd_upload_destroy(u);

    u = upload_of("multipart/form-data", "x", 1, 1, &err); /* no boundary */
    assert_int_equal(err, RT_ERR_ARG);
    assert_non_null(strstr(rt_error_message(), "boundary"));
    rd_upload_destroy(u);
}

static void test_clean_filename(void **state)
{
    (void)state;
    char out[32];
    rd_clean_filename("../../etc/passwd", out, sizeof out);
    assert_string_equal(out, "passwd");
    rd_clean_filename("C:\\fakepath\\photo.jpg", out, sizeof out);
    assert_string_equal(out, "photo.jpg");
    rd_clean_filename("..", out, sizeof out);
    assert_string_equal(out, "image");
    rd_clean_filename("", out, sizeof out);
    assert_string_equal(out, "image");
    rd_clean_filename("a\"b\r\nc\x01.jpg", out, sizeof out);
    assert_string_equal(out, "a'bc.jpg");
    rd_clean_filename("bad\xff\xfe.jpg", out, sizeof out);
    assert_string_equal(out, "bad__.jpg");
    /* Cut at a character boundary, never inside one. */
    rd_clean_filename("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
                      out, sizeof out);
    assert_int_equal(strlen(out), 30);
}

/* ---- router ------------------------------------------------------------ */

static const rd_route_pattern table[] = {
    {"POST", "/api/v1/retoucher/start"},
    {"GET", "/api/v1/retoucher/status/{id}"},
    {"GET", "/healthz"},
};

static void test_router(void **state)
{
    (void)state;
    char path[RD_PATH_MAX], id[RD_ROUTE_ID_MAX + 1];
    assert_int_equal(rd_path_normalize("/api/v1/retoucher//start/", path, sizeof path), 0);
    assert_string_equal(path, "/api/v1/retoucher/start");
    assert_int_equal(rd_route_find(table, 3, sizeof *table, "POST", path, id, sizeof id), 0);
    assert_int_equal(rd_path_normalize("//api//v1/retoucher/status/Ab-_9", path, sizeof path), 0);
    assert_int_equal(rd_route_find(table, 3, sizeof *table, "GET", path, id, sizeof id), 1);
    assert_string_equal(id, "Ab-_9");
    assert_int_equal(rd_route_find(table, 3, sizeof *table, "HEAD", "/healthz", id, sizeof id), 2);
    /* Wrong method: 404 that names the right one. */
    assert_int_equal(
        rd_route_find(table, 3, sizeof *table, "GET", "/api/v1/retoucher/start", id, sizeof id),
        RT_ERR_NOT_FOUND);
    assert_non_null(strstr(rt_error_message(), "POST"));
    /* Ids with path or odd characters never match. */
    assert_int_equal(rd_route_find(table, 3, sizeof *table, "GET", "/api/v1/retoucher/status/..%2f",
                                   id, sizeof id),
                     RT_ERR_NOT_FOUND);
    assert_int_equal(rd_route_find(table, 3, sizeof *table, "GET", "/api/v1/retoucher/status/a/b",
                                   id, sizeof id),
                     RT_ERR_NOT_FOUND);
    assert_int_equal(rd_path_normalize("no-slash", path, sizeof path), RT_ERR_NOT_FOUND);
    assert_int_equal(rd_path_normalize("/a\x01", path, sizeof path), RT_ERR_NOT_FOUND);
    char tiny[4];
    assert_int_equal(rd_path_normalize("/abcdef", tiny, sizeof tiny), RT_ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parts_any_split),
        cmocka_unit_test(test_preamble_and_leading_crlf),
        cmocka_unit_test(test_filename_forms),
        cmocka_unit_test(test_boundary_header),
        cmocka_unit_test(test_malformed_bodies),
        cmocka_unit_test(test_callback_error_sticks),
        cmocka_unit_test(test_urlencoded),
        cmocka_unit_test_setup_teardown(test_upload_fields_and_file, setup_spool, teardown_spool),
        cmocka_unit_test_setup_teardown(test_upload_limits, setup_spool, teardown_spool),
        cmocka_unit_test_setup_teardown(test_upload_other_bodies, setup_spool, teardown_spool),
        cmocka_unit_test_setup_teardown(test_spool_budget, setup_spool, teardown_spool),
        cmocka_unit_test(test_clean_filename),
        cmocka_unit_test(test_router),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
