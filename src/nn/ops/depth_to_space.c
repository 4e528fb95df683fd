/* DepthToSpace (NHWC, TensorFlow's DCR order): each pixel's channels become a
 * block x block patch: out[y*b + i, x*b + j, c] = in[y, x, (i*b + j)*oc + c]. */
#include "nn/nn_internal.h"

#include <stdlib.h>
#include <string.h>

static int prepare(nn_model *model, nn_node *node)
{
    if (node->n_op_inputs != 1) return nn_node_error(model, node, "expected one input");
    const nn_tensor *x = node->inputs[0];
    const int b = nn_attr_int_or(node, "block_size", 0);
    char fmt[16];
    if (nn_attr_string(node, "data_format", fmt, sizeof fmt) == 0 && strcmp(fmt, "NHWC") != 0)
        return nn_node_error(model, node, "data_format %s is not supported (NHWC only)", fmt);
    /* b * b <= c keeps every product below within an int */
    if (x->rank != 4 || x->shape[0] != 1 || b < 2 || (long long)b * b > x->shape[3] ||
        x->shape[3] % (b * b) != 0)
        return nn_node_error(model, node, "input [1,h,w,c] with c a multiple of block^2");
    int shape[4] = {1, x->shape[1] * b, x->shape[2] * b, x->shape[3] / (b * b)};
    nn_tensor_set_shape(node->output, 4, shape);
    return 0;
}

static void run(const nn_node *node, const nn_exec *ex)
{
    (void)ex;
    const nn_tensor *x = node->inputs[0];
    const int h = x->shape[1], w = x->shape[2], c = x->shape[3];
    const int oc = node->output->shape[3], b = node->output->shape[1] / h, ow = w * b;
    for (int y = 0; y < h; y++)
        for (int i = 0; i < b; i++)
            for (int xx = 0; xx < w; xx++)
                for (int j = 0; j < b; j++)
                    memcpy(node->output->data +
                               (((size_t)y * b + i) * ow + (size_t)xx * b + j) * oc,
                           x->data + ((size_t)y * w + xx) * c + (size_t)(i * b + j) * oc,
                           (size_t)oc * sizeof(float));
}

const nn_op nn_op_depth_to_space = {
    .type = "DepthToSpace",
    .prepare = prepare,
    .run = run,
};
