/* Add: a + b (Add and AddV2 are the same op; V2 only differs for strings).
 * An elementwise step (see elementwise.c); fused into its producer when it can be. */
#include "nn/nn_internal.h"

static int prepare(nn_model *model, nn_node *node)
{
    return nn_elementwise_prepare(model, node, NN_STEP_ADD, 1);
}

const nn_op nn_op_add = {
    .type = "Add",
    .prepare = prepare,
    .run = nn_elementwise_run,
    .takes_steps = 1,
};

const nn_op nn_op_add_v2 = {
    .type = "AddV2",
    .prepare = prepare,
    .run = nn_elementwise_run,
    .takes_steps = 1,
};
