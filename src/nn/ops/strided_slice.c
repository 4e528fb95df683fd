/* StridedSlice of a constant int32 vector (shape arithmetic), folded into a
 * constant at load.  Supports begin/end/shrink_axis masks on one axis; slices
 * of computed tensors are not needed by the models used and are refused. */
#include "nn/nn_internal.h"

#include <stdlib.h>

static int prepare(nn_model *model, nn_node *node)
{
    if (node->n_op_inputs != 4)
        return nn_node_error(model, node, "expected input, begin, end and strides");
    const nn_tensor *x = node->inputs[0];
    for (int i = 0; i < 4; i++) {
        const nn_tensor *t = node->inputs[i];
        if (!t->is_const || t->dtype != NN_I32 || t->rank != 1 || (i > 0 && t->shape[0] != 1))
            return nn_node_error(model, node,
                                 "only slices of a constant int32 vector are supported");
    }
    if (nn_attr_int_or(node, "ellipsis_mask", 0) || nn_attr_int_or(node, "new_axis_mask", 0))
        return nn_node_error(model, node, "ellipsis and new axis masks are not supported");
    const int n = x->shape[0];
    int begin = node->inputs[1]->idata[0], end = node->inputs[2]->idata[0];
    const int stride = node->inputs[3]->idata[0];
    if (stride == 0) return nn_node_error(model, node, "zero stride");
    const int shrink = nn_attr_int_or(node, "shrink_axis_mask", 0) & 1;
    if (begin < 0) begin += n;
    if (end < 0) end += n;
    if (nn_attr_int_or(node, "begin_mask", 0) & 1) begin = stride > 0 ? 0 : n - 1;
    if (nn_attr_int_or(node, "end_mask", 0) & 1) end = stride > 0 ? n : -1;
    if (shrink) {
        if (begin < 0 || begin >= n) return nn_node_error(model, node, "index out of range");
        end = begin + 1;
    } else {
        /* TensorFlow's clamping, which also keeps the loops below short
         * whatever the int32 constants hold */
        const int lo = stride > 0 ? 0 : -1, hi = stride > 0 ? n : n - 1;
        begin = begin < lo ? lo : begin > hi ? hi : begin;
        end = end < lo ? lo : end > hi ? hi : end;
    }
    int count = 0;
    /* long long: i + stride never overflows */
    for (long long i = begin; stride > 0 ? i < end : i > end; i += stride)
        if (i >= 0 && i < n) count++;
    nn_tensor *out = node->output;
    out->idata = malloc((size_t)(count ? count : 1) * sizeof *out->idata);
    if (!out->idata) return nn_node_error(model, node, "out of memory");
    count = 0;
    for (long long i = begin; stride > 0 ? i < end : i > end; i += stride)
        if (i >= 0 && i < n) out->idata[count++] = x->idata[i];
    if (shrink && count != 1) return nn_node_error(model, node, "index out of range");
    int shape[1] = {count};
    nn_tensor_set_shape(out, shrink ? 0 : 1, shape);
    out->dtype = NN_I32;
    out->is_const = 1;
    node->n_inputs = node->n_op_inputs = 0;
    return 0;
}

const nn_op nn_op_strided_slice = {
    .type = "StridedSlice",
    .prepare = prepare,
};
