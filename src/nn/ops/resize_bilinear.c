/* ResizeBilinear: NHWC resize to a constant size [h, w] with TensorFlow's
 * align_corners / half_pixel_centers conventions.  Source positions and
 * weights are computed once at load, in double like TensorFlow.js's CPU
 * kernel, so the interpolation itself is three float lerps per value. */
#include "nn/nn_internal.h"

#include <math.h>
#include <stdlib.h>

typedef struct axis_map {
    int lo, hi;
    float frac;
} axis_map;

typedef struct resize_params {
    int h, w, c, oh, ow;
    axis_map *rows, *cols;
} resize_params;

static void map_axis(axis_map *map, int out, int in, int align_corners, int half_pixel)
{
    const double ratio =
        (align_corners && out > 1) ? (double)(in - 1) / (out - 1) : (double)in / out;
    for (int i = 0; i < out; i++) {
        double src = half_pixel ? ratio * (i + 0.5) - 0.5 : ratio * i;
        double lo = floor(src);
        if (lo < 0) lo = 0;
        double hi = ceil(src);
        if (hi > in - 1) hi = in - 1;
        map[i].lo = (int)lo;
        map[i].hi = (int)hi < 0 ? 0 : (int)hi;
        map[i].frac = (float)(src - lo);
    }
}

static int prepare(nn_model *model, nn_node *node)
{
    if (node->n_op_inputs != 2) return nn_node_error(model, node, "expected images and size");
    const nn_tensor *x = node->inputs[0], *size = node->inputs[1];
    if (x->rank != 4 || x->shape[0] != 1)
        return nn_node_error(model, node, "images must be [1,h,w,c]");
    if (!size->is_const || size->dtype != NN_I32 || size->size != 2 || size->idata[0] < 1 ||
        size->idata[1] < 1 || size->idata[0] > NN_MAX_DIM || size->idata[1] > NN_MAX_DIM ||
        (size_t)size->idata[0] * (size_t)size->idata[1] * (size_t)x->shape[3] > NN_MAX_ELEMENTS)
        return nn_node_error(model, node, "size must be a constant int32 [h,w]");
    resize_params *p = calloc(1, sizeof *p);
    if (!p) return nn_node_error(model, node, "out of memory");
    node->params = p;
    p->h = x->shape[1];
    p->w = x->shape[2];
    p->c = x->shape[3];
    p->oh = size->idata[0];
    p->ow = size->idata[1];
    p->rows = calloc((size_t)p->oh, sizeof *p->rows);
    p->cols = calloc((size_t)p->ow, sizeof *p->cols);
    if (!p->rows || !p->cols) return nn_node_error(model, node, "out of memory");
    const int align = nn_attr_bool_or(node, "align_corners", 0);
    const int half = nn_attr_bool_or(node, "half_pixel_centers", 0);
    map_axis(p->rows, p->oh, p->h, align, half);
    map_axis(p->cols, p->ow, p->w, align, half);
    int shape[4] = {1, p->oh, p->ow, p->c};
    nn_tensor_set_shape(node->output, 4, shape);
    node->n_inputs = node->n_op_inputs = 1;
    return 0;
}

static void release(nn_node *node)
{
    resize_params *p = node->params;
    if (p) {
        free(p->rows);
        free(p->cols);
    }
}

static void run(const nn_node *node, const nn_exec *ex)
{
    const resize_params *p = node->params;
    const float *in = node->inputs[0]->data;
    float *out = node->output->data;
    const int c = p->c;
#pragma omp parallel for schedule(static) num_threads(ex->threads) if (p->oh > 1)
    for (int oy = 0; oy < p->oh; oy++) {
        const axis_map r = p->rows[oy];
        const float *top = in + (size_t)r.lo * p->w * c;
        const float *bottom = in + (size_t)r.hi * p->w * c;
        for (int ox = 0; ox < p->ow; ox++) {
            const axis_map col = p->cols[ox];
            const float *tl = top + (size_t)col.lo * c, *tr = top + (size_t)col.hi * c;
            const float *bl = bottom + (size_t)col.lo * c, *br = bottom + (size_t)col.hi * c;
            float *o = out + ((size_t)oy * p->ow + ox) * c;
            for (int ch = 0; ch < c; ch++) {
                const float t = tl[ch] + (tr[ch] - tl[ch]) * col.frac;
                const float b = bl[ch] + (br[ch] - bl[ch]) * col.frac;
                o[ch] = t + (b - t) * r.frac;
            }
        }
        nn_steps_apply(node->steps, node->n_steps, out, (size_t)oy * p->ow,
                       (size_t)(oy + 1) * p->ow, 0, c, c);
    }
}

const nn_op nn_op_resize_bilinear = {
    .type = "ResizeBilinear",
    .prepare = prepare,
    .run = run,
    .release = release,
    .takes_steps = 1,
};
