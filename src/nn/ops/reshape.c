/* Reshape: the same floats under a new shape (a constant int32 vector, one
 * entry may be -1).  No copy: the output shares the input's storage. */
#include "nn/nn_internal.h"

static int prepare(nn_model *model, nn_node *node)
{
    if (node->n_op_inputs != 2) return nn_node_error(model, node, "expected input and shape");
    nn_tensor *x = node->inputs[0];
    const nn_tensor *s = node->inputs[1];
    if (!s->is_const || s->dtype != NN_I32 || s->rank != 1 || s->shape[0] > NN_MAX_RANK)
        return nn_node_error(model, node, "shape must be a constant int32 vector of rank <= %d",
                             NN_MAX_RANK);
    int shape[NN_MAX_RANK], unknown = -1;
    size_t known = 1;
    for (int i = 0; i < s->shape[0]; i++) {
        shape[i] = s->idata[i];
        if (shape[i] == -1 && unknown < 0)
            unknown = i;
        else if (shape[i] < 0)
            return nn_node_error(model, node, "bad shape entry %d", shape[i]);
        else
            known *= (size_t)shape[i];
    }
    if (unknown >= 0 && known > 0 && x->size % known == 0) shape[unknown] = (int)(x->size / known);
    nn_tensor_set_shape(node->output, s->shape[0], shape);
    if (node->output->size != x->size)
        return nn_node_error(model, node, "shape does not hold %zu values", x->size);
    node->output->alias_of = x;
    node->n_inputs = node->n_op_inputs = 1;
    return 0;
}

const nn_op nn_op_reshape = {
    .type = "Reshape",
    .prepare = prepare,
    .is_alias = 1,
};
