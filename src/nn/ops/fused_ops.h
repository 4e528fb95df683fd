#ifndef RT_NN_OPS_FUSED_OPS_H
#define RT_NN_OPS_FUSED_OPS_H

#include "nn/nn_internal.h"

/* Appends node's fused_ops as steps; their constant arguments start at input
 * first_arg and have `channels` values each. */
int nn_fused_ops_to_steps(nn_model *model, nn_node *node, int first_arg, int channels);

#endif
