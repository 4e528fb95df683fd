/* Conv2DBackpropInput: the transposed convolution (TensorFlow's gradient of
 * Conv2D with respect to its input), used to upsample.  Inputs: the output
 * shape (constant int32 [4]), the filter [kh, kw, out_c, in_c] of the forward
 * convolution, and the tensor to upsample.
 *
 * One output row per task, so no two tasks write the same value: the row
 * takes, for each kernel row that reaches it, every input pixel of the
 * matching input row times its tap.
 */
#include "nn/nn_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct transpose_params {
    int h, w, cin, oh, ow, cout, kh, kw, sh, sw, pad_top, pad_left;
    const float *filter;
} transpose_params;

static int prepare(nn_model *model, nn_node *node)
{
    if (node->n_op_inputs != 3)
        return nn_node_error(model, node, "expected output shape, filter and input");
    const nn_tensor *shape_t = node->inputs[0], *f = node->inputs[1];
    nn_tensor *x = node->inputs[2];
    if (!shape_t->is_const || shape_t->dtype != NN_I32 || shape_t->size != 4)
        return nn_node_error(model, node, "output shape must be a constant int32 [4]");
    if (x->rank != 4 || x->shape[0] != 1 || !f->is_const || f->rank != 4 ||
        f->shape[3] != x->shape[3])
        return nn_node_error(model, node, "input [1,h,w,c] and constant filter [kh,kw,o,c]");
    transpose_params *p = calloc(1, sizeof *p);
    if (!p) return nn_node_error(model, node, "out of memory");
    node->params = p;
    nn_padding pad;
    int dh, dw, rc;
    if ((rc = nn_attr_padding(model, node, &pad)) ||
        (rc = nn_attr_nhwc_window(model, node, "strides", &p->sh, &p->sw)) ||
        (rc = nn_attr_nhwc_window(model, node, "dilations", &dh, &dw)))
        return rc;
    if (dh != 1 || dw != 1) return nn_node_error(model, node, "dilations are not supported");
    p->h = x->shape[1];
    p->w = x->shape[2];
    p->cin = x->shape[3];
    p->kh = f->shape[0];
    p->kw = f->shape[1];
    p->cout = f->shape[2];
    p->oh = shape_t->idata[1];
    p->ow = shape_t->idata[2];
    if (p->oh < 1 || p->ow < 1 || p->oh > NN_MAX_DIM || p->ow > NN_MAX_DIM)
        return nn_node_error(model, node, "output size out of range");
    if (shape_t->idata[0] != 1 || shape_t->idata[3] != p->cout)
        return nn_node_error(model, node, "output shape disagrees with the filter");
    /* The forward convolution maps the output size back to the input size. */
    if (nn_conv_out_size(p->oh, p->kh, p->sh, pad, &p->pad_top) != p->h ||
        nn_conv_out_size(p->ow, p->kw, p->sw, pad, &p->pad_left) != p->w)
        return nn_node_error(model, node, "output shape disagrees with the input");
    p->filter = f->data;
    int shape[4] = {1, p->oh, p->ow, p->cout};
    nn_tensor_set_shape(node->output, 4, shape);
    node->inputs[0] = x;
    node->n_inputs = node->n_op_inputs = 1;
    return 0;
}

static void run(const nn_node *node, const nn_exec *ex)
{
    const transpose_params *p = node->params;
    const float *in = node->inputs[0]->data;
    float *out = node->output->data;
#pragma omp parallel for schedule(static) num_threads(ex->threads) if (p->oh > 1)
    for (int oy = 0; oy < p->oh; oy++) {
        float *orow = out + (size_t)oy * p->ow * p->cout;
        memset(orow, 0, (size_t)p->ow * p->cout * sizeof(float));
        for (int ky = 0; ky < p->kh; ky++) {
            const int ty = oy + p->pad_top - ky;
            if (ty < 0 || ty % p->sh || ty / p->sh >= p->h) continue;
            const float *irow = in + (size_t)(ty / p->sh) * p->w * p->cin;
            for (int kx = 0; kx < p->kw; kx++) {
                const float *wk = p->filter + ((size_t)ky * p->kw + kx) * p->cout * p->cin;
                /* The input columns this tap reaches: ox = ix * stride + kx - pad. */
                for (int ix = 0; ix < p->w; ix++) {
                    const int ox = ix * p->sw + kx - p->pad_left;
                    if (ox < 0 || ox >= p->ow) continue;
                    const float *ip = irow + (size_t)ix * p->cin;
                    float *o = orow + (size_t)ox * p->cout;
                    for (int oc = 0; oc < p->cout; oc++) {
                        const float *wv = wk + (size_t)oc * p->cin;
                        float acc = 0;
                        for (int ic = 0; ic < p->cin; ic++)
                            acc += ip[ic] * wv[ic];
                        o[oc] += acc;
                    }
                }
            }
        }
        nn_steps_apply(node->steps, node->n_steps, out, (size_t)oy * p->ow,
                       (size_t)(oy + 1) * p->ow, 0, p->cout, p->cout);
    }
}

const nn_op nn_op_conv2d_transpose = {
    .type = "Conv2DBackpropInput",
    .prepare = prepare,
    .run = run,
    .takes_steps = 1,
};
