#include "test_util.h"

#include "core/colour.h"
#include "core/error.h"
#include "filters/resample.h"
#include "retouch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

const char *test_data(const char *name)
{
    static _Thread_local char buf[64][512];
    static _Thread_local int k;
    char *b = buf[k++ % 64];
    snprintf(b, 512, "%s/%s", RT_TEST_DATA_DIR, name);
    return b;
}

const char *test_shared(const char *name)
{
    static _Thread_local char buf[64][512];
    static _Thread_local int k;
    char *b = buf[k++ % 64];
    snprintf(b, 512, "%s/%s", RT_SHARED_IMAGES_DIR, name);
    return access(b, R_OK) == 0 ? b : NULL;
}

const char *test_tmpdir(void)
{
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/rt-test-XXXXXX");
        if (!mkdtemp(tmpdir)) fail_msg("cannot create a temporary directory");
    }
    return tmpdir;
}

void test_tmpdir_cleanup(void)
{
    if (!tmpdir[0]) return;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    tmpdir[0] = '\0';
}

const char *test_tmp(const char *name)
{
    static _Thread_local char buf[64][512];
    static _Thread_local int k;
    char *b = buf[k++ % 64];
    snprintf(b, 512, "%s/%s", test_tmpdir(), name);
    return b;
}

rt_decoded *test_decode(const char *path)
{
    rt_decoded *d = NULL;
    int err = rt_decode(path, 0, &d);
    if (err) fail_msg("decode %s: %s", path, rt_error_message());
    return d;
}

void test_write_image(const rt_image *im, const char *path)
{
    const char *dot = strrchr(path, '.');
    rt_encode_params ep = {.format = dot && !strcmp(dot, ".png") ? RT_FMT_PNG : RT_FMT_JPEG,
                           .bits = 8};
    rt_planes p = rt_planes_of(im, NULL);
    if (rt_encode_file(&p, &ep, path)) fail_msg("encode %s: %s", path, rt_error_message());
}

int test_run_job(const char *payload, const char *input, const char *output, const char *metadata)
{
    rt_payload *p = NULL;
    int err = rt_payload_parse(payload, strlen(payload), &p);
    if (err) return err;
    rt_job *job = NULL;
    rt_job_options opt = {0};
    err = rt_job_create(p, &opt, &job);
    if (!err) err = rt_job_run(job, input);
    if (!err && output) err = rt_job_write(job, output);
    if (!err && metadata) err = rt_job_write_metadata(job, metadata);
    rt_job_destroy(job);
    rt_payload_destroy(p);
    return err;
}

char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len) *len = (size_t)n;
    }
    return buf;
}

void test_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) fail_msg("cannot write %s", path);
    fclose(f);
}

double test_fraction_differing(const rt_image *a, const rt_image *b, double tol_steps)
{
    assert_int_equal(a->width, b->width);
    assert_int_equal(a->height, b->height);
    size_t n = rt_image_pixels(a), bad = 0;
    int ch = a->channels < b->channels ? a->channels : b->channels;
    for (int c = 0; c < ch; c++) {
        const float *pa = rt_image_plane(a, c), *pb = rt_image_plane(b, c);
        for (size_t i = 0; i < n; i++)
            if (fabs((double)pa[i] - pb[i]) * 255.0 > tol_steps + 1e-3) bad++;
    }
    return (double)bad / (double)(n * ch);
}

double test_max_abs_diff(const rt_image *a, const rt_image *b)
{
    assert_int_equal(a->width, b->width);
    assert_int_equal(a->height, b->height);
    size_t n = rt_image_pixels(a);
    double m = 0;
    int ch = a->channels < b->channels ? a->channels : b->channels;
    for (int c = 0; c < ch; c++) {
        const float *pa = rt_image_plane(a, c), *pb = rt_image_plane(b, c);
        for (size_t i = 0; i < n; i++)
            m = fmax(m, fabs((double)pa[i] - pb[i]));
    }
    return m;
}

void test_mean_linear(const rt_image *im, double out[3])
{
    size_t n = rt_image_pixels(im);
    for (int c = 0; c < 3; c++) {
        const float *p = rt_image_plane(im, c);
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += rt_srgb_to_linear_exact(p[i]);
        out[c] = s / (double)n;
    }
}

double test_ssim(const rt_image *a, const rt_image *b, int max_side)
{
    rt_image *sa, *sb;
    assert_int_equal(rt_downscale(a, max_side, &sa), 0);
    assert_int_equal(rt_downscale(b, max_side, &sb), 0);
    assert_int_equal(sa->width, sb->width);
    assert_int_equal(sa->height, sb->height);
    int w = sa->width, h = sa->height;
    float *la = malloc((size_t)w * h * sizeof *la), *lb = malloc((size_t)w * h * sizeof *lb);
    assert_non_null(la);
    assert_non_null(lb);
    for (size_t i = 0; i < (size_t)w * h; i++) {
        la[i] = 0.299f * sa->data[i] + 0.587f * sa->data[i + sa->plane_stride] +
                0.114f * sa->data[i + 2 * sa->plane_stride];
        lb[i] = 0.299f * sb->data[i] + 0.587f * sb->data[i + sb->plane_stride] +
                0.114f * sb->data[i + 2 * sb->plane_stride];
    }
    const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
    double sum = 0;
    long n = 0;
    for (int y = 0; y + 8 <= h; y += 4)
        for (int x = 0; x + 8 <= w; x += 4) {
            double ma = 0, mb = 0, va = 0, vb = 0, cov = 0;
            for (int j = 0; j < 8; j++)
                for (int i = 0; i < 8; i++) {
                    size_t k = (size_t)(y + j) * w + x + i;
                    ma += la[k];
                    mb += lb[k];
                }
            ma /= 64;
            mb /= 64;
            for (int j = 0; j < 8; j++)
                for (int i = 0; i < 8; i++) {
                    size_t k = (size_t)(y + j) * w + x + i;
                    va += (la[k] - ma) * (la[k] - ma);
                    vb += (lb[k] - mb) * (lb[k] - mb);
                    cov += (la[k] - ma) * (lb[k] - mb);
                }
            va /= 63;
            vb /= 63;
            cov /= 63;
            sum +=
                ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
            n++;
        }
    free(la);
    free(lb);
    rt_image_destroy(sa);
    rt_image_destroy(sb);
    return n ? sum / (double)n : 1.0;
}

void test_assert_same_bytes_any_threads(const char *payload, const char *input)
{
    char *bytes[2];
    size_t len[2];
    for (int t = 0; t < 2; t++) {
        rt_payload *p;
        if (rt_payload_parse(payload, strlen(payload), &p)) fail_msg("%s", rt_last_error());
        rt_job_options opt = {.threads = t + 1};
        rt_job *job;
        const char *o = test_tmp(t ? "threads2.png" : "threads1.png");
        int err = rt_job_create(p, &opt, &job);
        if (!err) {
            err = rt_job_run(job, input);
            if (!err) err = rt_job_write(job, o);
            rt_job_destroy(job);
        }
        rt_payload_destroy(p);
        if (err) fail_msg("%s with %d thread(s): %s", input, t + 1, rt_last_error());
        bytes[t] = test_read_file(o, &len[t]);
        if (!bytes[t]) fail_msg("cannot read %s", o);
    }
    assert_int_equal(len[0], len[1]);
    assert_memory_equal(bytes[0], bytes[1], len[0]);
    free(bytes[0]);
    free(bytes[1]);
}
