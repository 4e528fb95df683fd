/* DepthwiseConv2dNative (and FusedDepthwiseConv2dNative): each channel
 * convolved with its own kh x kw filter [kh, kw, c, 1].
 *
 * NHWC keeps a pixel's channels contiguous, so the innermost loop runs over
 * channels with a contiguous filter row: out[c] += in[c] * w[c], which gcc
 * vectorises at -O3 (AVX2/AVX-512 under -march=native, SSE otherwise).  One
 * task is one output row; the row is accumulated in place (it fits in L1)
 * and the node's steps run on it right away.
 */
#include "nn/ops/fused_ops.h"

#include <stdlib.h>
#include <string.h>

typedef struct depthwise_params {
    int h, w, c, oh, ow, kh, kw, sh, sw, pad_top, pad_left;
    const float *filter;
} depthwise_params;

static int prepare(nn_model *model, nn_node *node)
{
    if (node->n_op_inputs < 2) return nn_node_error(model, node, "expected input and filter");
    const nn_tensor *x = node->inputs[0], *f = node->inputs[1];
    if (x->rank != 4 || x->shape[0] != 1)
        return nn_node_error(model, node, "input must be [1,h,w,c]");
    if (!f->is_const || f->rank != 4 || f->shape[2] != x->shape[3] || f->shape[3] != 1)
        return nn_node_error(model, node, "filter must be a constant [kh,kw,%d,1]", x->shape[3]);
    depthwise_params *p = calloc(1, sizeof *p);
    if (!p) return nn_node_error(model, node, "out of memory");
    node->params = p;
    int dh, dw, rc;
    nn_padding pad;
    if ((rc = nn_attr_padding(model, node, &pad)) ||
        (rc = nn_attr_nhwc_window(model, node, "strides", &p->sh, &p->sw)) ||
        (rc = nn_attr_nhwc_window(model, node, "dilations", &dh, &dw)))
        return rc;
    if (dh != 1 || dw != 1)
        return nn_node_error(model, node, "dilated convolutions are not supported");
    p->h = x->shape[1];
    p->w = x->shape[2];
    p->c = x->shape[3];
    p->kh = f->shape[0];
    p->kw = f->shape[1];
    p->oh = nn_conv_out_size(p->h, p->kh, p->sh, pad, &p->pad_top);
    p->ow = nn_conv_out_size(p->w, p->kw, p->sw, pad, &p->pad_left);
    if (p->oh < 1 || p->ow < 1) return nn_node_error(model, node, "filter larger than input");
    p->filter = f->data;
    if ((rc = nn_fused_ops_to_steps(model, node, 2, p->c))) return rc;
    node->n_inputs = node->n_op_inputs = 1;
    int shape[4] = {1, p->oh, p->ow, p->c};
    nn_tensor_set_shape(node->output, 4, shape);
    return 0;
}

/* Eight channels as one vector: GCC/Clang vector extensions compile to AVX
 * (or two SSE registers) without intrinsics; memcpy makes the loads and
 * stores unaligned-safe and becomes plain vmovups.  (No helper functions:
 * passing vectors by value warns about the ABI when AVX is off.) */
typedef float v8f __attribute__((vector_size(32)));

/* Channels a multiple of 8 (every layer of the models used): the sum of a
 * pixel's taps stays in a register, and the tap ranges inside the input are
 * computed once instead of tested per tap.  Same order of additions as
 * run_row(), so both give identical results. */
static void run_row_v8(const depthwise_params *p, const float *in, float *orow, int oy)
{
    const int c = p->c;
    const int iy0 = oy * p->sh - p->pad_top;
    const int ky0 = iy0 < 0 ? -iy0 : 0;
    const int ky1 = p->h - iy0 < p->kh ? p->h - iy0 : p->kh;
    for (int ox = 0; ox < p->ow; ox++) {
        const int ix0 = ox * p->sw - p->pad_left;
        const int kx0 = ix0 < 0 ? -ix0 : 0;
        const int kx1 = p->w - ix0 < p->kw ? p->w - ix0 : p->kw;
        for (int cb = 0; cb < c; cb += 8) {
            v8f acc = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int ky = ky0; ky < ky1; ky++) {
                const float *ip = in + (size_t)(iy0 + ky) * p->w * c + cb;
                const float *wp = p->filter + (size_t)ky * p->kw * c + cb;
                for (int kx = kx0; kx < kx1; kx++) {
                    v8f x, w;
                    memcpy(&x, ip + (size_t)(ix0 + kx) * c, sizeof x);
                    memcpy(&w, wp + (size_t)kx * c, sizeof w);
                    acc += x * w;
                }
            }
            memcpy(orow + (size_t)ox * c + cb, &acc, sizeof acc);
        }
    }
}

static void run_row(const depthwise_params *p, const float *in, float *orow, int oy)
{
    const int c = p->c;
    memset(orow, 0, (size_t)p->ow * c * sizeof(float));
    for (int ky = 0; ky < p->kh; ky++) {
        const int iy = oy * p->sh - p->pad_top + ky;
        if (iy < 0 || iy >= p->h) continue;
        const float *irow = in + (size_t)iy * p->w * c;
        const float *wrow = p->filter + (size_t)ky * p->kw * c;
        for (int ox = 0; ox < p->ow; ox++) {
            float *restrict o = orow + (size_t)ox * c;
            const int ix0 = ox * p->sw - p->pad_left;
            for (int kx = 0; kx < p->kw; kx++) {
                const int ix = ix0 + kx;
                if (ix < 0 || ix >= p->w) continue;
                const float *restrict ip = irow + (size_t)ix * c;
                const float *restrict wp = wrow + (size_t)kx * c;
                for (int ch = 0; ch < c; ch++)
                    o[ch] += ip[ch] * wp[ch];
            }
        }
    }
}

static void run(const nn_node *node, const nn_exec *ex)
{
    const depthwise_params *p = node->params;
    const float *in = node->inputs[0]->data;
    float *out = node->output->data;
#pragma omp parallel for schedule(static) num_threads(ex->threads) if (p->oh > 1)
    for (int oy = 0; oy < p->oh; oy++) {
        if (p->c % 8 == 0)
            run_row_v8(p, in, out + (size_t)oy * p->ow * p->c, oy);
        else
            run_row(p, in, out + (size_t)oy * p->ow * p->c, oy);
        nn_steps_apply(node->steps, node->n_steps, out, (size_t)oy * p->ow,
                       (size_t)(oy + 1) * p->ow, 0, p->c, p->c);
    }
}

const nn_op nn_op_depthwise_conv2d = {
    .type = "DepthwiseConv2dNative",
    .prepare = prepare,
    .run = run,
    .takes_steps = 1,
};

const nn_op nn_op_fused_depthwise_conv2d = {
    .type = "FusedDepthwiseConv2dNative",
    .prepare = prepare,
    .run = run,
    .takes_steps = 1,
};
