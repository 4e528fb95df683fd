/* Pack of constant int32 tensors along axis 0 (building a Reshape's shape),
 * folded into a constant at load; packing computed tensors is refused. */
#include "nn/nn_internal.h"

#include <stdlib.h>
#include <string.h>

static int prepare(nn_model *model, nn_node *node)
{
    const int n = node->n_op_inputs;
    if (n < 1 || nn_attr_int_or(node, "axis", 0) != 0)
        return nn_node_error(model, node, "only Pack along axis 0 is supported");
    const nn_tensor *first = node->inputs[0];
    for (int i = 0; i < n; i++) {
        const nn_tensor *t = node->inputs[i];
        if (!t->is_const || t->dtype != NN_I32 || t->size != first->size || t->rank >= NN_MAX_RANK)
            return nn_node_error(model, node, "only constant int32 inputs of one shape");
    }
    nn_tensor *out = node->output;
    int shape[NN_MAX_RANK] = {n};
    for (int d = 0; d < first->rank; d++)
        shape[d + 1] = first->shape[d];
    nn_tensor_set_shape(out, first->rank + 1, shape);
    out->dtype = NN_I32;
    out->is_const = 1;
    out->idata = malloc((out->size ? out->size : 1) * sizeof *out->idata);
    if (!out->idata) return nn_node_error(model, node, "out of memory");
    for (int i = 0; i < n; i++)
        memcpy(out->idata + (size_t)i * first->size, node->inputs[i]->idata,
               first->size * sizeof *out->idata);
    node->n_inputs = node->n_op_inputs = 0;
    return 0;
}

const nn_op nn_op_pack = {
    .type = "Pack",
    .prepare = prepare,
};
