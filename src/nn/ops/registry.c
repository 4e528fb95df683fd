/* The table of ops: TensorFlow op name -> implementation.  Adding an op is
 * one new file in this folder plus one line here (see ../README.md). */
#include "nn/nn_internal.h"

#include <string.h>

extern const nn_op nn_op_add, nn_op_add_v2, nn_op_add_n, nn_op_avg_pool, nn_op_concat, nn_op_conv2d,
    nn_op_fused_conv2d, nn_op_conv2d_transpose, nn_op_depthwise_conv2d,
    nn_op_fused_depthwise_conv2d, nn_op_identity, nn_op_matmul, nn_op_fused_matmul, nn_op_maximum,
    nn_op_max_pool, nn_op_mean, nn_op_minimum, nn_op_mul, nn_op_pad, nn_op_prelu, nn_op_relu,
    nn_op_relu6, nn_op_reshape, nn_op_resize_bilinear, nn_op_sigmoid, nn_op_softmax, nn_op_shape,
    nn_op_strided_slice, nn_op_pack, nn_op_depth_to_space;

static const nn_op *const ops[] = {
    &nn_op_add,
    &nn_op_add_v2,
    &nn_op_add_n,
    &nn_op_avg_pool,
    &nn_op_concat,
    &nn_op_conv2d,
    &nn_op_fused_conv2d,
    &nn_op_conv2d_transpose,
    &nn_op_depth_to_space,
    &nn_op_depthwise_conv2d,
    &nn_op_fused_depthwise_conv2d,
    &nn_op_identity,
    &nn_op_matmul,
    &nn_op_fused_matmul,
    &nn_op_maximum,
    &nn_op_max_pool,
    &nn_op_mean,
    &nn_op_minimum,
    &nn_op_mul,
    &nn_op_pack,
    &nn_op_pad,
    &nn_op_prelu,
    &nn_op_relu,
    &nn_op_relu6,
    &nn_op_reshape,
    &nn_op_resize_bilinear,
    &nn_op_shape,
    &nn_op_sigmoid,
    &nn_op_softmax,
    &nn_op_strided_slice,
    NULL,
};

const nn_op *nn_op_find(const char *type)
{
    for (int i = 0; ops[i]; i++)
        if (strcmp(ops[i]->type, type) == 0) return ops[i];
    return NULL;
}

const nn_op *const *nn_op_all(void)
{
    return ops;
}
