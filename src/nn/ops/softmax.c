/* Softmax over the last axis: exp(x - max) / sum, with exp and the sum in
 * double and each intermediate rounded to float, as TensorFlow.js's CPU
 * kernel does it (max, sub, exp, sum, div). */
#include "nn/nn_internal.h"

#include <math.h>

static int prepare(nn_model *model, nn_node *node)
{
    if (node->n_op_inputs != 1 || node->inputs[0]->rank < 1)
        return nn_node_error(model, node, "expected one input");
    const nn_tensor *x = node->inputs[0];
    nn_tensor_set_shape(node->output, x->rank, x->shape);
    return 0;
}

static void run(const nn_node *node, const nn_exec *ex)
{
    (void)ex;
    const nn_tensor *x = node->inputs[0];
    const int n = x->shape[x->rank - 1];
    const size_t rows = x->size / (size_t)n;
    for (size_t r = 0; r < rows; r++) {
        const float *in = x->data + r * n;
        float *out = node->output->data + r * n;
        float max = in[0];
        for (int i = 1; i < n; i++)
            max = in[i] > max ? in[i] : max;
        double sum = 0;
        for (int i = 0; i < n; i++) {
            out[i] = (float)exp((double)(in[i] - max));
            sum += out[i];
        }
        const float total = (float)sum;
        for (int i = 0; i < n; i++)
            out[i] = out[i] / total;
    }
}

const nn_op nn_op_softmax = {
    .type = "Softmax",
    .prepare = prepare,
    .run = run,
};
