/* Pad: zeros around a tensor, paddings a constant int32 [rank, 2] of
 * (before, after) per axis.  These models use it to widen the channels of a
 * residual branch; any axis of a rank <= 4 tensor works. */
#include "nn/nn_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct pad_params {
    int in_shape[4], out_shape[4], before[4]; /* as rank 4, leading 1s */
} pad_params;

static int prepare(nn_model *model, nn_node *node)
{
    if (node->n_op_inputs != 2) return nn_node_error(model, node, "expected input and paddings");
    const nn_tensor *x = node->inputs[0], *pads = node->inputs[1];
    if (!pads->is_const || pads->dtype != NN_I32 || pads->rank != 2 || pads->shape[0] != x->rank ||
        pads->shape[1] != 2)
        return nn_node_error(model, node, "paddings must be a constant int32 [%d,2]", x->rank);
    pad_params *p = calloc(1, sizeof *p);
    if (!p) return nn_node_error(model, node, "out of memory");
    node->params = p;
    const int lead = 4 - x->rank;
    int shape[NN_MAX_RANK];
    for (int i = 0; i < 4; i++) {
        int before = 0, after = 0, dim = 1;
        if (i >= lead) {
            dim = x->shape[i - lead];
            before = pads->idata[2 * (i - lead)];
            after = pads->idata[2 * (i - lead) + 1];
        }
        if (before < 0 || after < 0) return nn_node_error(model, node, "negative padding");
        if (before > NN_MAX_DIM || after > NN_MAX_DIM)
            return nn_node_error(model, node, "padding over %d", NN_MAX_DIM);
        p->in_shape[i] = dim;
        p->before[i] = before;
        p->out_shape[i] = dim + before + after;
        if (i >= lead) shape[i - lead] = p->out_shape[i];
    }
    nn_tensor_set_shape(node->output, x->rank, shape);
    node->n_inputs = node->n_op_inputs = 1;
    return 0;
}

static void run(const nn_node *node, const nn_exec *ex)
{
    const pad_params *p = node->params;
    const float *in = node->inputs[0]->data;
    float *out = node->output->data;
    const int *is = p->in_shape, *os = p->out_shape;
    memset(out, 0, node->output->size * sizeof(float));
    const int rows = is[0] * is[1] * is[2];
#pragma omp parallel for schedule(static) num_threads(ex->threads) if (rows > 64)
    for (int r = 0; r < rows; r++) {
        const int i2 = r % is[2], i1 = (r / is[2]) % is[1], i0 = r / (is[2] * is[1]);
        const size_t o = (((size_t)(i0 + p->before[0]) * os[1] + (i1 + p->before[1])) * os[2] +
                          (i2 + p->before[2])) *
                             os[3] +
                         p->before[3];
        memcpy(out + o, in + (size_t)r * is[3], (size_t)is[3] * sizeof(float));
    }
}

const nn_op nn_op_pad = {
    .type = "Pad",
    .prepare = prepare,
    .run = run,
};
