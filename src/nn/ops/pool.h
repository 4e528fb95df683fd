/* Window geometry shared by MaxPool and AvgPool. */
#ifndef RT_NN_OPS_POOL_H
#define RT_NN_OPS_POOL_H

#include "nn/nn_internal.h"

typedef struct pool_params {
    int h, w, c, oh, ow, kh, kw, sh, sw, pad_top, pad_left;
} pool_params;

/* Reads ksize/strides/padding, sets the output shape; params owned by node. */
int nn_pool_prepare(nn_model *model, nn_node *node);

#endif
