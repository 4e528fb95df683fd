/* ConcatV2: inputs joined along an axis (the last input, a constant int32
 * scalar, negative counting from the end). */
#include "nn/nn_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct concat_params {
    size_t outer;                /* product of the dims before the axis */
    size_t inner[NN_MAX_INPUTS]; /* floats per outer index, per input */
    size_t out_inner;
} concat_params;

static int prepare(nn_model *model, nn_node *node)
{
    const int n = node->n_op_inputs - 1;
    if (n < 1) return nn_node_error(model, node, "expected inputs and an axis");
    const nn_tensor *axis_t = node->inputs[n];
    if (!axis_t->is_const || axis_t->dtype != NN_I32 || axis_t->size != 1)
        return nn_node_error(model, node, "axis must be a constant int32 scalar");
    const nn_tensor *first = node->inputs[0];
    int axis = axis_t->idata[0];
    if (axis < 0) axis += first->rank;
    if (axis < 0 || axis >= first->rank) return nn_node_error(model, node, "axis out of range");
    concat_params *p = calloc(1, sizeof *p);
    if (!p) return nn_node_error(model, node, "out of memory");
    node->params = p;
    int shape[NN_MAX_RANK];
    for (int d = 0; d < first->rank; d++)
        shape[d] = first->shape[d];
    shape[axis] = 0;
    p->outer = 1;
    for (int d = 0; d < axis; d++)
        p->outer *= (size_t)first->shape[d];
    for (int i = 0; i < n; i++) {
        const nn_tensor *t = node->inputs[i];
        if (t->rank != first->rank || t->dtype != NN_F32)
            return nn_node_error(model, node, "inputs differ in rank or type");
        for (int d = 0; d < t->rank; d++)
            if (d != axis && t->shape[d] != first->shape[d])
                return nn_node_error(model, node, "inputs differ outside the axis");
        shape[axis] += t->shape[axis];
        p->inner[i] = t->size / p->outer;
    }
    nn_tensor_set_shape(node->output, first->rank, shape);
    p->out_inner = node->output->size / p->outer;
    node->n_inputs = node->n_op_inputs = n; /* drop the axis constant */
    return 0;
}

static void run(const nn_node *node, const nn_exec *ex)
{
    (void)ex;
    const concat_params *p = node->params;
    float *out = node->output->data;
    for (size_t o = 0; o < p->outer; o++) {
        float *dst = out + o * p->out_inner;
        for (int i = 0; i < node->n_op_inputs; i++) {
            memcpy(dst, node->inputs[i]->data + o * p->inner[i], p->inner[i] * sizeof(float));
            dst += p->inner[i];
        }
    }
}

const nn_op nn_op_concat = {
    .type = "ConcatV2",
    .prepare = prepare,
    .run = run,
};
