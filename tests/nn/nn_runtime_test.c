/* Unit tests of the nn runtime: each op on small synthetic graphs against a
 * naive double-precision reference (odd sizes, both paddings, tile edges),
 * weight decoding (float16, uint8, uint16), load-time errors, and on the real
 * models: identical results for any thread count, fusion changing no bit,
 * and no allocation per run. */
#include "core/error.h"
#include "nn/nn.h"

#include <malloc.h>
#include <math.h>
#include <omp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- synthetic graphs ---- */

typedef struct weight {
    const char *name;
    int rank;
    int shape[4];
    const float *f;    /* float32 values, or */
    const int32_t *i;  /* int32 values, or */
    const char *quant; /* "float16", "uint8", "uint16": raw codes in q */
    const void *q;
    double qmin, qscale;
} weight;

static char tmpdir[256];

static size_t weight_count(const weight *w)
{
    size_t n = 1;
    for (int d = 0; d < w->rank; d++)
        n *= (size_t)w->shape[d];
    return n;
}

/* Writes tmpdir/<name>.json (+ .bin): Const nodes for the weights, then the
 * given nodes (a JSON list body), with an optional signature object. */
static void write_model(const char *name, const char *nodes, const char *signature, const weight *w,
                        int nw)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.bin", tmpdir, name);
    FILE *bin = fopen(path, "wb");
    assert_non_null(bin);
    size_t cap = 1 << 20, len = 0;
    char *json = malloc(cap);
    assert_non_null(json);
#define OUT(...) (len += (size_t)snprintf(json + len, cap - len, __VA_ARGS__))
    OUT("{\"format\":\"graph-model\",\"modelTopology\":{\"node\":[");
    for (int k = 0; k < nw; k++)
        OUT("{\"name\":\"%s\",\"op\":\"Const\",\"attr\":{}},", w[k].name);
    OUT("%s]},\"weightsManifest\":[{\"paths\":[\"%s.bin\"],\"weights\":[", nodes, name);
    for (int k = 0; k < nw; k++) {
        const size_t n = weight_count(&w[k]);
        OUT("%s{\"name\":\"%s\",\"dtype\":\"%s\",\"shape\":[", k ? "," : "", w[k].name,
            w[k].i ? "int32" : "float32");
        for (int d = 0; d < w[k].rank; d++)
            OUT("%s%d", d ? "," : "", w[k].shape[d]);
        OUT("]");
        if (w[k].quant) {
            OUT(",\"quantization\":{\"dtype\":\"%s\",\"min\":%.17g,\"scale\":%.17g}", w[k].quant,
                w[k].qmin, w[k].qscale);
            size_t bytes = strcmp(w[k].quant, "uint8") == 0 ? n : 2 * n;
            assert_int_equal(fwrite(w[k].q, 1, bytes, bin), bytes);
        } else if (w[k].i) {
            assert_int_equal(fwrite(w[k].i, 4, n, bin), n);
        } else {
            assert_int_equal(fwrite(w[k].f, 4, n, bin), n);
        }
        OUT("}");
    }
    OUT("]}]%s%s}", signature ? ",\"signature\":" : "", signature ? signature : "");
#undef OUT
    assert_true(len < cap);
    assert_int_equal(fclose(bin), 0);
    snprintf(path, sizeof path, "%s/%s.json", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(json, f);
    assert_int_equal(fclose(f), 0);
    free(json);
}

static nn_model *load(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.json", tmpdir, name);
    nn_model *m = NULL;
    int rc = nn_model_load(path, &m);
    if (rc) fail_msg("load %s: %s", name, rt_error_message());
    return m;
}

static float *random_floats(size_t n, uint32_t seed)
{
    float *v = malloc(n * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        v[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    return v;
}

#define PLACEHOLDER(name, h, w, c)                                                                 \
    "{\"name\":\"" name "\",\"op\":\"Placeholder\",\"attr\":{\"shape\":{\"shape\":{\"dim\":["      \
    "{\"size\":\"1\"},{\"size\":\"" #h "\"},{\"size\":\"" #w "\"},{\"size\":\"" #c "\"}]}}}}"

static const char *pad_b64(int same)
{
    return same ? "U0FNRQ==" : "VkFMSUQ=";
}

/* TensorFlow's output size and leading padding for one axis. */
static int out_size(int in, int k, int s, int same, int *before)
{
    if (!same) {
        *before = 0;
        return (in - k) / s + 1;
    }
    int out = (in + s - 1) / s;
    int total = (out - 1) * s + k - in;
    *before = total > 0 ? total / 2 : 0;
    return out;
}

static void expect_close(const float *got, const double *want, size_t n, double tol,
                         const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double err = fabs(got[i] - want[i]);
        if (!(err <= tol * fmax(1.0, fabs(want[i]))))
            fail_msg("%s: value %zu is %.9g, expected %.9g", what, i, got[i], want[i]);
    }
}

/* ---- convolutions ---- */

typedef struct conv_case {
    int h, w, cin, cout, kh, kw, stride, same, fused;
} conv_case;

static void run_conv_case(const conv_case *c, int depthwise)
{
    char nodes[4096], desc[128];
    const int cout = depthwise ? c->cin : c->cout;
    snprintf(desc, sizeof desc, "%s %dx%dx%d k%dx%d s%d %s", depthwise ? "depthwise" : "conv", c->h,
             c->w, c->cin, c->kh, c->kw, c->stride, c->same ? "SAME" : "VALID");
    const size_t nx = (size_t)c->h * c->w * c->cin;
    const size_t nf = (size_t)c->kh * c->kw * c->cin * (depthwise ? 1 : cout);
    float *x = random_floats(nx, 1), *f = random_floats(nf, 2), *b = random_floats(cout, 3);
    weight w[2] = {
        {"filter", 4, {c->kh, c->kw, c->cin, depthwise ? 1 : cout}, f, 0, 0, 0, 0, 0},
        {"bias", 1, {cout}, b, 0, 0, 0, 0, 0},
    };
    const char *op = depthwise ? (c->fused ? "FusedDepthwiseConv2dNative" : "DepthwiseConv2dNative")
                               : (c->fused ? "_FusedConv2D" : "Conv2D");
    int len = snprintf(nodes, sizeof nodes,
                       "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"shape\":{\"shape\":{"
                       "\"dim\":[{\"size\":\"-1\"},{\"size\":\"%d\"},{\"size\":\"%d\"},{\"size\":"
                       "\"%d\"}]}}}},"
                       "{\"name\":\"y\",\"op\":\"%s\",\"input\":[\"x\",\"filter\"%s],\"attr\":{"
                       "\"padding\":{\"s\":\"%s\"},\"data_format\":{\"s\":\"TkhXQw==\"},"
                       "\"strides\":{\"list\":{\"i\":[\"1\",\"%d\",\"%d\",\"1\"]}}",
                       c->h, c->w, c->cin, op, c->fused ? ",\"bias\"" : "", pad_b64(c->same),
                       c->stride, c->stride);
    if (c->fused)
        len += snprintf(nodes + len, sizeof nodes - len,
                        ",\"fused_ops\":{\"list\":{\"s\":[\"Qmlhc0FkZA==\",\"UmVsdQ==\"]}}");
    snprintf(nodes + len, sizeof nodes - len, "}}");
    write_model("conv", nodes, NULL, w, c->fused ? 2 : 1);
    nn_model *m = load("conv");

    int pt, pl;
    const int oh = out_size(c->h, c->kh, c->stride, c->same, &pt);
    const int ow = out_size(c->w, c->kw, c->stride, c->same, &pl);
    const nn_tensor_info *out = nn_model_output(m, 0);
    assert_int_equal(out->size, (size_t)oh * ow * cout);
    double *want = calloc(out->size, sizeof *want);
    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
            for (int co = 0; co < cout; co++) {
                double acc = 0;
                for (int ky = 0; ky < c->kh; ky++)
                    for (int kx = 0; kx < c->kw; kx++) {
                        int iy = oy * c->stride - pt + ky, ix = ox * c->stride - pl + kx;
                        if (iy < 0 || iy >= c->h || ix < 0 || ix >= c->w) continue;
                        const float *px = x + ((size_t)iy * c->w + ix) * c->cin;
                        if (depthwise) {
                            acc += (double)px[co] * f[((size_t)ky * c->kw + kx) * c->cin + co];
                        } else {
                            for (int ci = 0; ci < c->cin; ci++)
                                acc += (double)px[ci] *
                                       f[(((size_t)ky * c->kw + kx) * c->cin + ci) * cout + co];
                        }
                    }
                if (c->fused) {
                    acc += b[co];
                    acc = acc > 0 ? acc : 0;
                }
                want[((size_t)oy * ow + ox) * cout + co] = acc;
            }
    float *got = malloc(out->size * sizeof *got);
    assert_int_equal(nn_model_run(m, (const float *const *)&x, &got), 0);
    expect_close(got, want, out->size, 1e-5, desc);
    free(got);
    free(want);
    free(x);
    free(f);
    free(b);
    nn_model_destroy(m);
}

static void test_conv2d(void **state)
{
    (void)state;
    static const conv_case cases[] = {
        {7, 9, 5, 6, 3, 3, 1, 1, 0},    /* SAME, odd sizes */
        {8, 7, 3, 4, 3, 3, 2, 1, 1},    /* stride 2, fused bias + relu */
        {11, 10, 3, 5, 5, 5, 2, 0, 0},  /* 5x5 VALID */
        {13, 11, 6, 9, 1, 1, 1, 0, 1},  /* pointwise over two pixel tiles */
        {6, 6, 20, 200, 2, 2, 2, 0, 0}, /* few pixels, many channels: split */
        {9, 9, 8, 300, 3, 3, 3, 0, 1},  /* facemesh-head-like */
        {5, 4, 2, 3, 4, 4, 1, 1, 0},    /* even kernel, SAME: asymmetric pad */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_conv_case(&cases[i], 0);
}

static void test_depthwise(void **state)
{
    (void)state;
    static const conv_case cases[] = {
        {7, 9, 5, 0, 3, 3, 1, 1, 0},
        {12, 11, 24, 0, 3, 3, 2, 1, 1},
        {9, 13, 33, 0, 5, 5, 2, 1, 0},
        {6, 6, 17, 0, 3, 3, 1, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_conv_case(&cases[i], 1);
}

/* Conv2DBackpropInput: scatter reference (the definition) against the
 * runtime's gather. */
static void test_conv_transpose(void **state)
{
    (void)state;
    static const struct {
        int oh, ow, k, s, same, cin, cout;
    } cases[] = {{16, 16, 2, 2, 1, 5, 1}, {9, 11, 3, 2, 1, 4, 3}, {10, 9, 3, 2, 0, 2, 2}};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        int pt, pl;
        const int h = out_size(cases[t].oh, cases[t].k, cases[t].s, cases[t].same, &pt);
        const int w = out_size(cases[t].ow, cases[t].k, cases[t].s, cases[t].same, &pl);
        const int k = cases[t].k, s = cases[t].s, cin = cases[t].cin, cout = cases[t].cout;
        const int oh = cases[t].oh, ow = cases[t].ow;
        float *x = random_floats((size_t)h * w * cin, 4);
        float *f = random_floats((size_t)k * k * cout * cin, 5);
        int32_t shape[4] = {1, oh, ow, cout};
        weight wt[2] = {{"shape", 1, {4}, 0, shape, 0, 0, 0, 0},
                        {"filter", 4, {k, k, cout, cin}, f, 0, 0, 0, 0, 0}};
        char nodes[2048];
        snprintf(nodes, sizeof nodes,
                 "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"shape\":{\"shape\":{"
                 "\"dim\":[{\"size\":\"1\"},{\"size\":\"%d\"},{\"size\":\"%d\"},{\"size\":"
                 "\"%d\"}]}}}},"
                 "{\"name\":\"y\",\"op\":\"Conv2DBackpropInput\",\"input\":[\"shape\",\"filter\","
                 "\"x\"],\"attr\":{\"padding\":{\"s\":\"%s\"},\"strides\":{\"list\":{\"i\":[\"1\","
                 "\"%d\",\"%d\",\"1\"]}}}}",
                 h, w, cin, pad_b64(cases[t].same), s, s);
        write_model("transpose", nodes, NULL, wt, 2);
        nn_model *m = load("transpose");
        const size_t n = (size_t)oh * ow * cout;
        assert_int_equal(nn_model_output(m, 0)->size, n);
        double *want = calloc(n, sizeof *want);
        for (int iy = 0; iy < h; iy++)
            for (int ix = 0; ix < w; ix++)
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        int oy = iy * s - pt + ky, ox = ix * s - pl + kx;
                        if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                        for (int co = 0; co < cout; co++)
                            for (int ci = 0; ci < cin; ci++)
                                want[((size_t)oy * ow + ox) * cout + co] +=
                                    (double)x[((size_t)iy * w + ix) * cin + ci] *
                                    f[(((size_t)ky * k + kx) * cout + co) * cin + ci];
                    }
        float *got = malloc(n * sizeof *got);
        assert_int_equal(nn_model_run(m, (const float *const *)&x, &got), 0);
        expect_close(got, want, n, 1e-5, "conv2d transpose");
        free(got);
        free(want);
        free(x);
        free(f);
        nn_model_destroy(m);
    }
}

/* ---- pooling, resize, pad, concat, mean, softmax, matmul ---- */

static void test_pools(void **state)
{
    (void)state;
    for (int avg = 0; avg < 2; avg++)
        for (int same = 0; same < 2; same++) {
            const int h = 7, w = 9, c = 3, k = 3, s = 2;
            float *x = random_floats((size_t)h * w * c, 6);
            char nodes[2048];
            snprintf(nodes, sizeof nodes,
                     PLACEHOLDER("x", 7, 9, 3) ",{\"name\":\"y\",\"op\":\"%s\",\"input\":[\"x\"],"
                                               "\"attr\":{\"padding\":{\"s\":\"%s\"},\"ksize\":{"
                                               "\"list\":{\"i\":[\"1\",\"3\",\"3\",\"1\"]}},"
                                               "\"strides\":{\"list\":{\"i\":[\"1\",\"2\",\"2\","
                                               "\"1\"]}}}}",
                     avg ? "AvgPool" : "MaxPool", pad_b64(same));
            write_model("pool", nodes, NULL, NULL, 0);
            nn_model *m = load("pool");
            int pt, pl;
            const int oh = out_size(h, k, s, same, &pt), ow = out_size(w, k, s, same, &pl);
            const size_t n = (size_t)oh * ow * c;
            assert_int_equal(nn_model_output(m, 0)->size, n);
            double *want = calloc(n, sizeof *want);
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                    for (int ch = 0; ch < c; ch++) {
                        double acc = avg ? 0 : -INFINITY;
                        int count = 0;
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy * s - pt + ky, ix = ox * s - pl + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                double v = x[((size_t)iy * w + ix) * c + ch];
                                acc = avg ? acc + v : fmax(acc, v);
                                count++;
                            }
                        want[((size_t)oy * ow + ox) * c + ch] = avg ? acc / count : acc;
                    }
            float *got = malloc(n * sizeof *got);
            assert_int_equal(nn_model_run(m, (const float *const *)&x, &got), 0);
            expect_close(got, want, n, 1e-6, avg ? "AvgPool" : "MaxPool");
            free(got);
            free(want);
            free(x);
            nn_model_destroy(m);
        }
}

static void test_resize_bilinear(void **state)
{
    (void)state;
    for (int mode = 0; mode < 3; mode++) {
        const int align = mode == 1, half = mode == 2;
        const int h = 5, w = 6, c = 2, oh = 11, ow = 8;
        float *x = random_floats((size_t)h * w * c, 7);
        int32_t size[2] = {oh, ow};
        weight wt[1] = {{"size", 1, {2}, 0, size, 0, 0, 0, 0}};
        char nodes[2048];
        snprintf(nodes, sizeof nodes,
                 PLACEHOLDER("x", 5, 6, 2) ",{\"name\":\"y\",\"op\":\"ResizeBilinear\",\"input\":["
                                           "\"x\",\"size\"],\"attr\":{\"align_corners\":{\"b\":%s},"
                                           "\"half_pixel_centers\":{\"b\":%s}}}",
                 align ? "true" : "false", half ? "true" : "false");
        write_model("resize", nodes, NULL, wt, 1);
        nn_model *m = load("resize");
        const size_t n = (size_t)oh * ow * c;
        double *want = calloc(n, sizeof *want);
        const double ry = align ? (double)(h - 1) / (oh - 1) : (double)h / oh;
        const double rx = align ? (double)(w - 1) / (ow - 1) : (double)w / ow;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                double sy = half ? (oy + 0.5) * ry - 0.5 : oy * ry;
                double sx = half ? (ox + 0.5) * rx - 0.5 : ox * rx;
                sy = fmin(fmax(sy, 0), h - 1);
                sx = fmin(fmax(sx, 0), w - 1);
                int y0 = (int)floor(sy), x0 = (int)floor(sx);
                int y1 = y0 + 1 < h ? y0 + 1 : y0, x1 = x0 + 1 < w ? x0 + 1 : x0;
                double fy = sy - y0, fx = sx - x0;
                for (int ch = 0; ch < c; ch++) {
#define X(yy, xx) ((double)x[((size_t)(yy)*w + (xx)) * c + ch])
                    double top = X(y0, x0) + (X(y0, x1) - X(y0, x0)) * fx;
                    double bot = X(y1, x0) + (X(y1, x1) - X(y1, x0)) * fx;
#undef X
                    want[((size_t)oy * ow + ox) * c + ch] = top + (bot - top) * fy;
                }
            }
        float *got = malloc(n * sizeof *got);
        assert_int_equal(nn_model_run(m, (const float *const *)&x, &got), 0);
        expect_close(got, want, n, 1e-6, "ResizeBilinear");
        free(got);
        free(want);
        free(x);
        nn_model_destroy(m);
    }
}

/* Pad, ConcatV2, Mul, Add, Mean, Prelu, _FusedMatMul, Minimum, Softmax,
 * Sigmoid and Identity in one graph whose signature names two outputs. */
static void test_small_ops(void **state)
{
    (void)state;
    const int h = 3, w = 4, c = 2, ph = 4, pw = 6, pc = 5, cc = 10, n_out = 6;
    float *x = random_floats((size_t)h * w * c, 8);
    int32_t pads[8] = {0, 0, 1, 0, 0, 2, 0, 3}, axes[2] = {1, 2}, axis[1] = {-1};
    float *mat = random_floats((size_t)cc * n_out, 9), *bias = random_floats(n_out, 10);
    float alpha[10] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f, 1.0f};
    float six[1] = {6.0f}, shift[1] = {-0.3f};
    weight wt[] = {
        {"pads", 2, {4, 2}, 0, pads, 0, 0, 0, 0},  {"axes", 1, {2}, 0, axes, 0, 0, 0, 0},
        {"axis", 0, {0}, 0, axis, 0, 0, 0, 0},     {"mat", 2, {cc, n_out}, mat, 0, 0, 0, 0, 0},
        {"bias", 1, {n_out}, bias, 0, 0, 0, 0, 0}, {"alpha", 1, {cc}, alpha, 0, 0, 0, 0, 0},
        {"six", 0, {0}, six, 0, 0, 0, 0, 0},       {"shift", 0, {0}, shift, 0, 0, 0, 0, 0},
    };
    const char *nodes = PLACEHOLDER(
        "x", 3, 4,
        2) ","
           "{\"name\":\"padded\",\"op\":\"Pad\",\"input\":[\"x\",\"pads\"]},"
           "{\"name\":\"cat\",\"op\":\"ConcatV2\",\"input\":[\"padded\",\"padded\",\"axis\"]},"
           "{\"name\":\"sq\",\"op\":\"Mul\",\"input\":[\"cat\",\"cat\"]},"
           "{\"name\":\"shifted\",\"op\":\"AddV2\",\"input\":[\"shift\",\"sq\"]},"
           "{\"name\":\"mean\",\"op\":\"Mean\",\"input\":[\"shifted\",\"axes\"],\"attr\":{"
           "\"keep_dims\":{\"b\":false}}},"
           "{\"name\":\"neg\",\"op\":\"Prelu\",\"input\":[\"mean\",\"alpha\"]},"
           "{\"name\":\"dense\",\"op\":\"_FusedMatMul\",\"input\":[\"neg\",\"mat\",\"bias\"],"
           "\"attr\":{\"fused_ops\":{\"list\":{\"s\":[\"Qmlhc0FkZA==\"]}}}},"
           "{\"name\":\"clip\",\"op\":\"Minimum\",\"input\":[\"six\",\"dense\"]},"
           "{\"name\":\"soft\",\"op\":\"Softmax\",\"input\":[\"clip\"]},"
           "{\"name\":\"Identity_1\",\"op\":\"Identity\",\"input\":[\"soft\"]},"
           "{\"name\":\"Identity\",\"op\":\"Sigmoid\",\"input\":[\"mean\"]}";
    const char *sig = "{\"inputs\":{\"x:0\":{\"name\":\"x:0\"}},\"outputs\":{"
                      "\"probs\":{\"name\":\"Identity_1:0\"},\"gate\":{\"name\":\"Identity:0\"}}}";
    write_model("small", nodes, sig, wt, (int)(sizeof wt / sizeof wt[0]));
    nn_model *m = load("small");
    assert_int_equal(nn_model_input_count(m), 1);
    assert_string_equal(nn_model_input(m, 0)->name, "x");
    assert_int_equal(nn_model_output_count(m), 2);
    assert_string_equal(nn_model_output(m, 0)->name, "Identity");
    assert_string_equal(nn_model_output(m, 0)->key, "gate");
    assert_string_equal(nn_model_output(m, 1)->key, "probs");
    assert_int_equal(nn_model_output_index(m, "probs"), 1);
    assert_int_equal(nn_model_output_index(m, "Identity:0"), 0);
    assert_int_equal(nn_model_output_index(m, "nothing"), -1);
    assert_int_equal(nn_model_output(m, 0)->size, cc);
    assert_int_equal(nn_model_output(m, 1)->size, n_out);

    double mean[10] = {0}, gate[10], dense[6], soft[6], total = 0;
    for (int y = 0; y < ph; y++)
        for (int xx = 0; xx < pw; xx++)
            for (int ch = 0; ch < cc; ch++) {
                int src = ch % pc;
                double v =
                    (y >= 1 && xx < w && src < c) ? x[((size_t)(y - 1) * w + xx) * c + src] : 0.0;
                mean[ch] += (v * v - 0.3) / (ph * pw);
            }
    for (int j = 0; j < n_out; j++) {
        double acc = bias[j];
        for (int ch = 0; ch < cc; ch++)
            acc += (mean[ch] < 0 ? alpha[ch] * mean[ch] : mean[ch]) * mat[ch * n_out + j];
        dense[j] = fmin(acc, 6.0);
    }
    double max = dense[0];
    for (int j = 1; j < n_out; j++)
        max = fmax(max, dense[j]);
    for (int j = 0; j < n_out; j++)
        total += soft[j] = exp(dense[j] - max);
    for (int j = 0; j < n_out; j++)
        soft[j] /= total;
    for (int ch = 0; ch < cc; ch++)
        gate[ch] = 1 / (1 + exp(-mean[ch]));

    float got_gate[10], got_soft[6];
    float *outs[2] = {got_gate, got_soft};
    assert_int_equal(nn_model_run(m, (const float *const *)&x, outs), 0);
    expect_close(got_gate, gate, cc, 1e-6, "sigmoid(mean)");
    expect_close(got_soft, soft, n_out, 1e-6, "softmax");
    nn_model_destroy(m);
    free(x);
    free(mat);
    free(bias);
}

/* DepthToSpace, and the shape arithmetic folded at load (Shape,
 * StridedSlice, Pack feeding Reshape) as the full-range detector uses it. */
static void test_depth_to_space_and_shape_ops(void **state)
{
    (void)state;
    const int h = 2, w = 3, c = 8, b = 2, oc = 2;
    float *x = random_floats((size_t)h * w * c, 12);
    int32_t zero[1] = {0}, one[1] = {1}, minus1[1] = {-1}, two[1] = {2};
    weight wt[] = {
        {"b0", 1, {1}, 0, zero, 0, 0, 0, 0}, {"b1", 1, {1}, 0, one, 0, 0, 0, 0},
        {"st", 1, {1}, 0, one, 0, 0, 0, 0},  {"m1", 0, {0}, 0, minus1, 0, 0, 0, 0},
        {"two", 0, {0}, 0, two, 0, 0, 0, 0},
    };
    const char *nodes = PLACEHOLDER(
        "x", 2, 3,
        8) ","
           "{\"name\":\"d\",\"op\":\"DepthToSpace\",\"input\":[\"x\"],\"attr\":{\"block_size\":{"
           "\"i\":\"2\"},\"data_format\":{\"s\":\"TkhXQw==\"}}},"
           "{\"name\":\"s\",\"op\":\"Shape\",\"input\":[\"d\"]},"
           "{\"name\":\"n\",\"op\":\"StridedSlice\",\"input\":[\"s\",\"b0\",\"b1\",\"st\"],"
           "\"attr\":{"
           "\"shrink_axis_mask\":{\"i\":\"1\"}}},"
           "{\"name\":\"p\",\"op\":\"Pack\",\"input\":[\"n\",\"m1\",\"two\"],\"attr\":{\"axis\":{"
           "\"i\":\"0\"}}},"
           "{\"name\":\"r\",\"op\":\"Reshape\",\"input\":[\"d\",\"p\"]}";
    write_model("d2s", nodes, NULL, wt, (int)(sizeof wt / sizeof wt[0]));
    nn_model *m = load("d2s");
    const nn_tensor_info *out = nn_model_output(m, 0);
    assert_string_equal(out->name, "r");
    assert_int_equal(out->rank, 3);
    assert_int_equal(out->shape[0], 1);
    assert_int_equal(out->shape[1], h * b * w * b);
    assert_int_equal(out->shape[2], oc);
    enum { N = 2 * 2 * 3 * 2 * 2 };
    assert_int_equal(out->size, N);
    double want[N];
    for (int y = 0; y < h; y++)
        for (int i = 0; i < b; i++)
            for (int xx = 0; xx < w; xx++)
                for (int j = 0; j < b; j++)
                    for (int ch = 0; ch < oc; ch++)
                        want[((y * b + i) * w * b + xx * b + j) * oc + ch] =
                            x[(y * w + xx) * c + (i * b + j) * oc + ch];
    float got[N];
    float *outs[1] = {got};
    assert_int_equal(nn_model_run(m, (const float *const *)&x, outs), 0);
    expect_close(got, want, N, 0, "DepthToSpace");
    nn_model_destroy(m);
    free(x);
}

/* ---- weights and errors ---- */

/* Add(x, w) with w stored quantised: the output minus x is the decoded w. */
static void test_quantized_weights(void **state)
{
    (void)state;
    const uint8_t q8[4] = {0, 1, 128, 255};
    const uint16_t q16[4] = {0, 3, 40000, 65535};
    /* float16: 1.0, -2.5, 65504 (largest), 2^-24 (smallest subnormal) */
    const uint16_t h16[4] = {0x3c00, 0xc100, 0x7bff, 0x0001};
    const struct {
        const char *quant;
        const void *q;
        double min, scale;
        float want[4];
    } cases[] = {
        {"uint8",
         q8,
         -1.0,
         2.0 / 255,
         {-1.0f, (float)(-1.0 + 2.0 / 255), (float)(-1.0 + 256.0 / 255), 1.0f}},
        {"uint16", q16, 0.5, 0.001, {0.5f, 0.503f, 40.5f, (float)(0.5 + 65.535)}},
        {"float16", h16, 0, 0, {1.0f, -2.5f, 65504.0f, 5.9604644775390625e-8f}},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        weight wt[1] = {
            {"w", 1, {4}, 0, 0, cases[t].quant, cases[t].q, cases[t].min, cases[t].scale}};
        write_model("quant",
                    PLACEHOLDER("x", 1, 1, 4) ",{\"name\":\"y\",\"op\":\"AddV2\",\"input\":["
                                              "\"x\",\"w\"]}",
                    NULL, wt, 1);
        nn_model *m = load("quant");
        float zero[4] = {0}, got[4];
        const float *in = zero;
        float *out = got;
        assert_int_equal(nn_model_run(m, &in, &out), 0);
        for (int i = 0; i < 4; i++)
            if (got[i] != cases[t].want[i])
                fail_msg("%s value %d: %.9g, expected %.9g", cases[t].quant, i, got[i],
                         cases[t].want[i]);
        nn_model_destroy(m);
    }
}

static void expect_load_error(const char *name, const char *part1, const char *part2)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.json", tmpdir, name);
    nn_model *m = NULL;
    int rc = nn_model_load(path, &m);
    assert_int_equal(rc, RT_ERR_MODEL);
    assert_null(m);
    const char *msg = rt_error_message();
    if (!strstr(msg, part1) || (part2 && !strstr(msg, part2)))
        fail_msg("error \"%s\" lacks \"%s\" / \"%s\"", msg, part1, part2 ? part2 : "");
}

static void test_load_errors(void **state)
{
    (void)state;
    /* An op the runtime lacks: named, with its node, at load. */
    write_model(
        "unknown",
        PLACEHOLDER("x", 1, 1, 4) ",{\"name\":\"odd_node\",\"op\":\"Erf\",\"input\":[\"x\"]}", NULL,
        NULL, 0);
    expect_load_error("unknown", "Erf", "odd_node");

    /* A missing model names the install command. */
    expect_load_error("no_such_model", "no_such_model.json", "scripts/fetch-models");

    /* Weight data shorter than the manifest says. */
    float v[4] = {1, 2, 3, 4};
    weight wt[1] = {{"w", 1, {4}, v, 0, 0, 0, 0, 0}};
    write_model("short",
                PLACEHOLDER("x", 1, 1, 4) ",{\"name\":\"y\",\"op\":\"AddV2\",\"input\":["
                                          "\"x\",\"w\"]}",
                NULL, wt, 1);
    char path[512];
    snprintf(path, sizeof path, "%s/short.bin", tmpdir);
    assert_int_equal(truncate(path, 10), 0);
    expect_load_error("short", "too short", "fetch-models");
    assert_int_equal(unlink(path), 0);
    expect_load_error("short", "short.bin", "fetch-models");

    /* Not JSON at all. */
    snprintf(path, sizeof path, "%s/garbage.json", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"format\": \"graph-model\", ", f);
    fclose(f);
    expect_load_error("garbage", "corrupt", "fetch-models");

    /* An unsupported attribute value, named. */
    write_model(
        "dilated",
        PLACEHOLDER("x", 4, 4, 1) ",{\"name\":\"pool\",\"op\":\"MaxPool\",\"input\":[\"x\"],"
                                  "\"attr\":{\"padding\":{\"s\":\"RVhQTElDSVQ=\"}}}",
        NULL, NULL, 0);
    expect_load_error("dilated", "pool", "EXPLICIT");

    nn_model *m = NULL;
    write_model("ok",
                PLACEHOLDER("x", 1, 1, 4) ",{\"name\":\"y\",\"op\":\"Relu\",\"input\":[\"x\"]}",
                NULL, NULL, 0);
    m = load("ok");
    const float *none[1] = {NULL};
    assert_int_equal(nn_model_run(m, none, NULL), RT_ERR_ARG);
    nn_model_destroy(m);
}

/* ---- crafted model files ---- */

/* Writes tmpdir/<name>.json as given and <name>.bin holding data. */
static void write_raw_model(const char *name, const char *json, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.json", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(json, f);
    assert_int_equal(fclose(f), 0);
    snprintf(path, sizeof path, "%s/%s.bin", tmpdir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    if (len) assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* A Conv2D of a [1,2,2,cin] input with a filter of the given shape. */
static void write_conv_model(const char *name, const char *cin, const char *filter_shape,
                             const void *data, size_t len)
{
    char json[2048];
    snprintf(json, sizeof json,
             "{\"format\":\"graph-model\",\"modelTopology\":{\"node\":["
             "{\"name\":\"filter\",\"op\":\"Const\",\"attr\":{}},"
             "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"shape\":{\"shape\":{\"dim\":["
             "{\"size\":\"1\"},{\"size\":\"2\"},{\"size\":\"2\"},{\"size\":\"%s\"}]}}}},"
             "{\"name\":\"y\",\"op\":\"Conv2D\",\"input\":[\"x\",\"filter\"],\"attr\":{"
             "\"padding\":{\"s\":\"U0FNRQ==\"},\"strides\":{\"list\":{\"i\":[\"1\",\"1\",\"1\","
             "\"1\"]}}}}]},"
             "\"weightsManifest\":[{\"paths\":[\"%s.bin\"],\"weights\":[{\"name\":\"filter\","
             "\"dtype\":\"float32\",\"shape\":%s}]}]}",
             cin, name, filter_shape);
    write_raw_model(name, json, data, len);
}

/* Shapes that wrap the element count, zero or huge dimensions, ranks over
 * 4 and sizes from int32 constants are refused at load with the name of
 * what is wrong, never crash: [65536]x4 used to wrap to 0 elements, pass
 * the (empty) shard's length check and divide by zero in Conv2D (SIGFPE). */
static void test_crafted_shapes(void **state)
{
    (void)state;
    write_conv_model("wrap", "65536", "[65536,65536,65536,65536]", NULL, 0);
    expect_load_error("wrap", "weight filter has a bad shape", "more than 268435456");
    write_conv_model("zero", "1", "[0,1,1,1]", NULL, 0);
    expect_load_error("zero", "weight filter has a bad shape", "below 1");
    const float one = 1.0f;
    write_conv_model("cast", "1", "[4294967297,1,1,1]", &one, sizeof one);
    expect_load_error("cast", "weight filter has a bad shape", "over 16777216");
    write_conv_model("rank5", "1", "[1,1,1,1,1]", &one, sizeof one);
    expect_load_error("rank5", "weight filter has rank 5", NULL);
    write_conv_model("input", "-7", "[1,1,1,1]", &one, sizeof one);
    expect_load_error("input", "input 'x' has a bad shape", "below 1");

    /* an int32 size constant asking for 2^30 x 2^30 pixels */
    const int32_t size[2] = {1 << 30, 1 << 30};
    write_raw_model(
        "resize",
        "{\"format\":\"graph-model\",\"modelTopology\":{\"node\":["
        "{\"name\":\"size\",\"op\":\"Const\",\"attr\":{}}," PLACEHOLDER(
            "x", 2, 2,
            1) ",{\"name\":\"y\",\"op\":\"ResizeBilinear\",\"input\":[\"x\",\"size\"]}]},"
               "\"weightsManifest\":[{\"paths\":[\"resize.bin\"],\"weights\":[{\"name\":"
               "\"size\",\"dtype\":\"int32\",\"shape\":[2]}]}]}",
        size, sizeof size);
    expect_load_error("resize", "size must be a constant int32", NULL);

    /* a 1x1 filter of 2^24 output channels on 2^12 input ones: each shape
     * is allowed, the filter's 2^36 values are not */
    write_conv_model("big", "4096", "[1,1,4096,16777216]", NULL, 0);
    expect_load_error("big", "weight filter has a bad shape", "more than 268435456");

    /* a graph with an output but no input: refused without leaking the
     * output's name (the model fuzz target found the leak; LSan in the
     * sanitizer build) */
    write_raw_model("noinput",
                    "{\"format\":\"graph-model\",\"modelTopology\":{\"node\":["
                    "{\"name\":\"c\",\"op\":\"Const\",\"attr\":{}},"
                    "{\"name\":\"o\",\"op\":\"Sigmoid\",\"input\":[\"c\"]}]},"
                    "\"weightsManifest\":[{\"paths\":[\"noinput.bin\"],\"weights\":[{"
                    "\"name\":\"c\",\"dtype\":\"float32\",\"shape\":[1]}]}]}",
                    &one, sizeof one);
    expect_load_error("noinput", "no inputs or no outputs", NULL);
}

/* ---- the real models ---- */

static const char *real_models[] = {"blazeface.json", "facemesh-detection-full.json",
                                    "facemesh.json",  "iris.json",
                                    "selfie.json",    "faceres.json"};

static nn_model *load_real(const char *file)
{
    char path[1024];
    nn_model *m = NULL;
    if (nn_model_path(file, path, sizeof path) || nn_model_load(path, &m))
        fail_msg("%s", rt_error_message()); /* names scripts/fetch-models */
    return m;
}

/* Runs model on a fixed random input; returns all outputs concatenated. */
static float *run_real(nn_model *m, size_t *total)
{
    const nn_tensor_info *in = nn_model_input(m, 0);
    float *x = random_floats(in->size, 11);
    for (size_t i = 0; i < in->size; i++)
        x[i] = 0.5f + 0.5f * x[i];
    *total = 0;
    for (int o = 0; o < nn_model_output_count(m); o++)
        *total += nn_model_output(m, o)->size;
    float *all = malloc(*total * sizeof *all);
    float *outs[8];
    size_t off = 0;
    for (int o = 0; o < nn_model_output_count(m); o++) {
        outs[o] = all + off;
        off += nn_model_output(m, o)->size;
    }
    assert_int_equal(nn_model_run(m, (const float *const *)&x, outs), 0);
    free(x);
    return all;
}

static void test_threads_and_fusion_change_nothing(void **state)
{
    (void)state;
    const int saved = omp_get_max_threads();
    for (size_t k = 0; k < sizeof real_models / sizeof real_models[0]; k++) {
        size_t n1, n3, nf;
        omp_set_num_threads(1);
        nn_model *m1 = load_real(real_models[k]);
        float *one = run_real(m1, &n1);
        omp_set_num_threads(3);
        nn_model *m3 = load_real(real_models[k]);
        float *three = run_real(m3, &n3);
        assert_int_equal(n1, n3);
        if (memcmp(one, three, n1 * sizeof(float)) != 0)
            fail_msg("%s: 1 and 3 threads differ", real_models[k]);

        setenv("NN_NO_FUSE", "1", 1);
        nn_model *mf = load_real(real_models[k]);
        unsetenv("NN_NO_FUSE");
        float *unfused = run_real(mf, &nf);
        if (memcmp(one, unfused, n1 * sizeof(float)) != 0)
            fail_msg("%s: fusion changed the results", real_models[k]);
        free(one);
        free(three);
        free(unfused);
        nn_model_destroy(m1);
        nn_model_destroy(m3);
        nn_model_destroy(mf);
    }
    omp_set_num_threads(saved);
}

static void test_no_allocation_per_run(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip(); /* ASan's allocator does not report through mallinfo2 */
#else
    for (size_t k = 0; k < sizeof real_models / sizeof real_models[0]; k++) {
        nn_model *m = load_real(real_models[k]);
        const nn_tensor_info *in = nn_model_input(m, 0);
        float *x = calloc(in->size, sizeof *x);
        float *outs[8] = {0};
        for (int o = 0; o < nn_model_output_count(m); o++)
            outs[o] = malloc(nn_model_output(m, o)->size * sizeof(float));
        nn_model_run(m, (const float *const *)&x, outs); /* threads start */
        struct mallinfo2 before = mallinfo2();
        for (int i = 0; i < 3; i++)
            nn_model_run(m, (const float *const *)&x, outs);
        struct mallinfo2 after = mallinfo2();
        if (after.uordblks != before.uordblks || after.hblkhd != before.hblkhd)
            fail_msg("%s: runs allocated %zd bytes", real_models[k],
                     (ssize_t)(after.uordblks - before.uordblks));
        for (int o = 0; o < 8; o++)
            free(outs[o]);
        free(x);
        nn_model_destroy(m);
    }
#endif
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_conv2d),
    cmocka_unit_test(test_depthwise),
    cmocka_unit_test(test_conv_transpose),
    cmocka_unit_test(test_pools),
    cmocka_unit_test(test_resize_bilinear),
    cmocka_unit_test(test_small_ops),
    cmocka_unit_test(test_depth_to_space_and_shape_ops),
    cmocka_unit_test(test_quantized_weights),
    cmocka_unit_test(test_load_errors),
    cmocka_unit_test(test_crafted_shapes),
    cmocka_unit_test(test_threads_and_fusion_change_nothing),
    cmocka_unit_test(test_no_allocation_per_run),
};

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nn_runtime_test.XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) rc = rc ? rc : 1;
    return rc;
}
