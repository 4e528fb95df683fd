/* Identity: its input under another name (the converter's graph outputs).
 * No copy: the output shares the input's storage. */
#include "nn/nn_internal.h"

static int prepare(nn_model *model, nn_node *node)
{
    if (node->n_op_inputs != 1) return nn_node_error(model, node, "expected one input");
    nn_tensor *x = node->inputs[0];
    nn_tensor_set_shape(node->output, x->rank, x->shape);
    node->output->alias_of = x;
    return 0;
}

const nn_op nn_op_identity = {
    .type = "Identity",
    .prepare = prepare,
    .is_alias = 1,
};
