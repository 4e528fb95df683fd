/* Relu: max(x, 0).
 * An elementwise step (see elementwise.c); fused into its producer when it can be. */
#include "nn/nn_internal.h"

static int prepare(nn_model *model, nn_node *node)
{
    return nn_elementwise_prepare(model, node, NN_STEP_RELU, 0);
}

const nn_op nn_op_relu = {
    .type = "Relu",
    .prepare = prepare,
    .run = nn_elementwise_run,
    .takes_steps = 1,
};
