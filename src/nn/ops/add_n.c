/* AddN: the sum of its inputs; these graphs have two, which is one Add step
 * (elementwise.c).  More inputs would change the rounding order, so they
 * are refused rather than approximated. */
#include "nn/nn_internal.h"

static int prepare(nn_model *model, nn_node *node)
{
    if (node->n_op_inputs != 2)
        return nn_node_error(model, node, "only AddN of 2 inputs is supported");
    return nn_elementwise_prepare(model, node, NN_STEP_ADD, 1);
}

const nn_op nn_op_add_n = {
    .type = "AddN",
    .prepare = prepare,
    .run = nn_elementwise_run,
    .takes_steps = 1,
};
