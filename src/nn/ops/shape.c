/* Shape: the input's shape as an int32 vector.  Shapes are fixed at load,
 * so the op is folded into a constant then (it feeds Reshape's shape). */
#include "nn/nn_internal.h"

#include <stdlib.h>

static int prepare(nn_model *model, nn_node *node)
{
    if (node->n_op_inputs != 1) return nn_node_error(model, node, "expected one input");
    const nn_tensor *x = node->inputs[0];
    int shape[1] = {x->rank};
    nn_tensor *out = node->output;
    nn_tensor_set_shape(out, 1, shape);
    out->dtype = NN_I32;
    out->is_const = 1;
    out->idata = malloc((size_t)(x->rank ? x->rank : 1) * sizeof *out->idata);
    if (!out->idata) return nn_node_error(model, node, "out of memory");
    for (int i = 0; i < x->rank; i++)
        out->idata[i] = x->shape[i];
    node->n_inputs = node->n_op_inputs = 0; /* nothing to read at run time */
    return 0;
}

const nn_op nn_op_shape = {
    .type = "Shape",
    .prepare = prepare,
};
