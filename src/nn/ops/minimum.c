/* Minimum: min(a, b).
 * An elementwise step (see elementwise.c); fused into its producer when it can be. */
#include "nn/nn_internal.h"

static int prepare(nn_model *model, nn_node *node)
{
    return nn_elementwise_prepare(model, node, NN_STEP_MIN, 1);
}

const nn_op nn_op_minimum = {
    .type = "Minimum",
    .prepare = prepare,
    .run = nn_elementwise_run,
    .takes_steps = 1,
};
