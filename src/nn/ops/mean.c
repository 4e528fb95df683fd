/* Mean over spatial axes of an NHWC tensor (global average pooling): axes a
 * constant int32 list that must be {1, 2}.  Like TensorFlow.js's CPU kernel,
 * each value is divided by the count first and the quotients summed in
 * double, so the result matches it to the last bit or so. */
#include "nn/nn_internal.h"

#include <stdlib.h>

static int prepare(nn_model *model, nn_node *node)
{
    if (node->n_op_inputs != 2) return nn_node_error(model, node, "expected input and axes");
    const nn_tensor *x = node->inputs[0], *axes = node->inputs[1];
    if (x->rank != 4 || x->shape[0] != 1)
        return nn_node_error(model, node, "input must be [1,h,w,c]");
    int has[4] = {0};
    for (size_t i = 0; axes->is_const && axes->dtype == NN_I32 && i < axes->size; i++) {
        int a = axes->idata[i] < 0 ? axes->idata[i] + 4 : axes->idata[i];
        if (a >= 0 && a < 4) has[a] = 1;
    }
    if (!axes->is_const || axes->size != 2 || !has[1] || !has[2])
        return nn_node_error(model, node, "only the mean over axes {1,2} is supported");
    const int c = x->shape[3];
    if (nn_attr_bool_or(node, "keep_dims", 0)) {
        int shape[4] = {1, 1, 1, c};
        nn_tensor_set_shape(node->output, 4, shape);
    } else {
        int shape[2] = {1, c};
        nn_tensor_set_shape(node->output, 2, shape);
    }
    node->n_inputs = node->n_op_inputs = 1;
    node->scratch_floats = 2 * (size_t)c; /* doubles */
    return 0;
}

static void run(const nn_node *node, const nn_exec *ex)
{
    const nn_tensor *x = node->inputs[0];
    const int c = x->shape[3];
    const size_t pixels = (size_t)x->shape[1] * x->shape[2];
    const float count = (float)pixels;
    double *sum = (double *)(void *)nn_exec_scratch(ex, 0);
    for (int ch = 0; ch < c; ch++)
        sum[ch] = 0;
    for (size_t i = 0; i < pixels; i++) {
        const float *px = x->data + i * c;
        for (int ch = 0; ch < c; ch++)
            sum[ch] += px[ch] / count;
    }
    for (int ch = 0; ch < c; ch++)
        node->output->data[ch] = (float)sum[ch];
    nn_steps_apply(node->steps, node->n_steps, node->output->data, 0, 1, 0, c, c);
}

const nn_op nn_op_mean = {
    .type = "Mean",
    .prepare = prepare,
    .run = run,
    .takes_steps = 1,
};
