/* Conv2D and _FusedConv2D: 2-D convolution of an NHWC input with an HWIO
 * filter [kh, kw, cin, cout], as one GEMM per output tile.
 *
 * The filter, read row-major, is already the GEMM's B matrix [kh*kw*cin,
 * cout].  A 1x1 stride-1 convolution multiplies the input itself (its pixels
 * are A's rows); other shapes gather each tile's patches into scratch first
 * (im2col, one tile at a time so it stays in cache).  After the GEMM, the
 * node's steps (bias, activation, fused residual add) run on the tile.
 *
 * Tasks are tiles of output pixels (and of output channels when there are
 * few pixels) whose shapes depend only on the layer, never on the thread
 * count, so results are the same with any number of threads.
 */
#include "nn/ops/fused_ops.h"
#include "nn/ops/gemm.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

typedef struct conv_params {
    int h, w, cin;
    int oh, ow, cout;
    int kh, kw, sh, sw, pad_top, pad_left;
    int k;         /* kh * kw * cin: GEMM depth */
    int pointwise; /* A is the input itself */
    const float *filter;
    int tile_m, tile_n, tasks_m, tasks_n;
} conv_params;

#define IM2COL_FLOATS 16384 /* 64 KB of patches per tile */
#define POINTWISE_TILE 128

static int prepare(nn_model *model, nn_node *node)
{
    if (node->n_op_inputs < 2) return nn_node_error(model, node, "expected input and filter");
    const nn_tensor *x = node->inputs[0], *f = node->inputs[1];
    if (x->rank != 4 || x->shape[0] != 1)
        return nn_node_error(model, node, "input must be [1,h,w,c]");
    if (!f->is_const || f->rank != 4 || f->shape[2] != x->shape[3])
        return nn_node_error(model, node, "filter must be a constant [kh,kw,%d,cout]", x->shape[3]);
    int dh, dw;
    nn_padding pad;
    conv_params *p = calloc(1, sizeof *p);
    if (!p) return nn_node_error(model, node, "out of memory");
    node->params = p;
    int rc;
    if ((rc = nn_attr_padding(model, node, &pad)) ||
        (rc = nn_attr_nhwc_window(model, node, "strides", &p->sh, &p->sw)) ||
        (rc = nn_attr_nhwc_window(model, node, "dilations", &dh, &dw)))
        return rc;
    if (dh != 1 || dw != 1)
        return nn_node_error(model, node, "dilated convolutions are not supported");

    p->h = x->shape[1];
    p->w = x->shape[2];
    p->cin = x->shape[3];
    p->kh = f->shape[0];
    p->kw = f->shape[1];
    p->cout = f->shape[3];
    p->oh = nn_conv_out_size(p->h, p->kh, p->sh, pad, &p->pad_top);
    p->ow = nn_conv_out_size(p->w, p->kw, p->sw, pad, &p->pad_left);
    if (p->oh < 1 || p->ow < 1) return nn_node_error(model, node, "filter larger than input");
    p->k = p->kh * p->kw * p->cin;
    p->filter = f->data;
    p->pointwise = p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1;

    if ((rc = nn_fused_ops_to_steps(model, node, 2, p->cout))) return rc;
    node->n_inputs = node->n_op_inputs = 1; /* the rest are constants */

    const int m = p->oh * p->ow;
    if (p->pointwise) {
        p->tile_m = POINTWISE_TILE;
    } else {
        p->tile_m = IM2COL_FLOATS / p->k;
        p->tile_m = p->tile_m < 8 ? 8 : p->tile_m > 128 ? 128 : p->tile_m;
        node->scratch_floats = (size_t)p->tile_m * (size_t)p->k;
    }
    p->tasks_m = nn_chunks((size_t)m, (size_t)p->tile_m);
    /* Few pixels, many channels (the deep layers): split the channels too. */
    p->tile_n = p->tasks_m < 4 && p->cout >= 128 ? 64 : p->cout;
    p->tasks_n = nn_chunks((size_t)p->cout, (size_t)p->tile_n);

    int shape[4] = {1, p->oh, p->ow, p->cout};
    nn_tensor_set_shape(node->output, 4, shape);
    return 0;
}

/* Patches of output pixels [m0, m1) as rows of k floats (zeros for padding). */
static void im2col(const conv_params *p, const float *in, int m0, int m1, float *col)
{
    const size_t row_bytes = (size_t)p->cin * sizeof(float);
    for (int pix = m0; pix < m1; pix++) {
        const int oy = pix / p->ow, ox = pix % p->ow;
        float *dst = col + (size_t)(pix - m0) * (size_t)p->k;
        for (int ky = 0; ky < p->kh; ky++) {
            const int iy = oy * p->sh - p->pad_top + ky;
            for (int kx = 0; kx < p->kw; kx++, dst += p->cin) {
                const int ix = ox * p->sw - p->pad_left + kx;
                if (iy < 0 || iy >= p->h || ix < 0 || ix >= p->w) {
                    memset(dst, 0, row_bytes);
                } else {
                    const float *src = in + ((size_t)iy * p->w + ix) * p->cin;
                    for (int c = 0; c < p->cin; c++) /* cin is often 3: no memcpy call */
                        dst[c] = src[c];
                }
            }
        }
    }
}

static void run(const nn_node *node, const nn_exec *ex)
{
    const conv_params *p = node->params;
    const float *in = node->inputs[0]->data;
    float *out = node->output->data;
    const int m = p->oh * p->ow;
    const int tasks = p->tasks_m * p->tasks_n;
#pragma omp parallel for schedule(static) num_threads(ex->threads) if (tasks > 1)
    for (int t = 0; t < tasks; t++) {
        const int m0 = (t / p->tasks_n) * p->tile_m;
        const int m1 = m0 + p->tile_m < m ? m0 + p->tile_m : m;
        const int n0 = (t % p->tasks_n) * p->tile_n;
        const int n1 = n0 + p->tile_n < p->cout ? n0 + p->tile_n : p->cout;
        const float *a;
        int lda;
        if (p->pointwise) {
            a = in + (size_t)m0 * p->cin;
            lda = p->cin;
        } else {
            float *col = nn_exec_scratch(ex, omp_get_thread_num());
            im2col(p, in, m0, m1, col);
            a = col;
            lda = p->k;
        }
        nn_gemm(m1 - m0, n1 - n0, p->k, a, lda, p->filter + n0, p->cout,
                out + (size_t)m0 * p->cout + n0, p->cout);
        nn_steps_apply(node->steps, node->n_steps, out, (size_t)m0, (size_t)m1, n0, n1, p->cout);
    }
}

const nn_op nn_op_conv2d = {
    .type = "Conv2D",
    .prepare = prepare,
    .run = run,
    .takes_steps = 1,
};

const nn_op nn_op_fused_conv2d = {
    .type = "_FusedConv2D",
    .prepare = prepare,
    .run = run,
    .takes_steps = 1,
};
