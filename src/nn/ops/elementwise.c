/* Shared body of the elementwise ops (Add, Mul, Relu, Prelu, ...): each is
 * one step (../epilogue.c) applied to a copy of its main input.
 *
 * Broadcasting covers what these graphs use: an operand that is a scalar, a
 * per-channel vector ([C], [1,1,C], [1,1,1,C]; a constant bias or a computed
 * squeeze-excitation gate) or a tensor of the same shape.  Add, Mul, Minimum
 * and Maximum are commutative, so the larger input becomes the main one.
 */
#include "nn/nn_internal.h"

#include <string.h>

/* Work per task: about 16 KB, whatever the channel count. */
#define FLOATS_PER_CHUNK 4096

static int channels_of(const nn_tensor *t)
{
    return t->rank ? t->shape[t->rank - 1] : 1;
}

/* t broadcasts as one value per channel of main. */
static int is_channel_vector(const nn_tensor *t, const nn_tensor *main)
{
    if (t->rank > main->rank || t->size != (size_t)channels_of(main) || t->rank == 0) return 0;
    return t->shape[t->rank - 1] == channels_of(main);
}

static int same_shape(const nn_tensor *a, const nn_tensor *b)
{
    if (a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

int nn_elementwise_prepare(nn_model *model, nn_node *node, nn_step_kind kind, int binary)
{
    nn_step *step = &node->steps[0];
    node->n_steps = 1;
    *step = (nn_step){.kind = kind, .operand = NN_OPERAND_NONE};

    if (!binary) {
        int want = kind == NN_STEP_PRELU ? 2 : 1;
        if (node->n_op_inputs != want)
            return nn_node_error(model, node, "expected %d inputs", want);
        if (node->inputs[0]->dtype != NN_F32)
            return nn_node_error(model, node, "float input expected");
        if (kind == NN_STEP_PRELU) {
            nn_tensor *alpha = node->inputs[1];
            if (!alpha->is_const || !is_channel_vector(alpha, node->inputs[0]))
                return nn_node_error(model, node, "alpha must be a constant per channel");
            step->operand = NN_OPERAND_CHANNEL;
            step->tensor = alpha;
            node->n_inputs = node->n_op_inputs = 1; /* constants need no planning */
        }
        nn_tensor_set_shape(node->output, node->inputs[0]->rank, node->inputs[0]->shape);
        return 0;
    }

    if (node->n_op_inputs != 2)
        return nn_node_error(model, node, "expected 2 inputs, got %d", node->n_op_inputs);
    nn_tensor *a = node->inputs[0], *b = node->inputs[1];
    if (a->dtype != NN_F32 || b->dtype != NN_F32)
        return nn_node_error(model, node, "float inputs expected");
    if (a->is_const && b->is_const)
        return nn_node_error(model, node, "constant folding is not supported");
    /* Main input: the non-constant one, else the larger one. */
    if (a->is_const || (!b->is_const && b->size > a->size)) {
        nn_tensor *tmp = a;
        a = b;
        b = tmp;
    }
    if (b->size == 1) {
        if (!b->is_const)
            return nn_node_error(model, node, "computed scalar operands are not supported");
        step->operand = NN_OPERAND_SCALAR;
        step->scalar = b->data[0];
    } else if (same_shape(a, b)) {
        step->operand = NN_OPERAND_FULL;
        step->tensor = b;
    } else if (is_channel_vector(b, a)) {
        step->operand = NN_OPERAND_CHANNEL;
        step->tensor = b;
    } else {
        return nn_node_error(model, node, "this broadcast of %s and %s is not supported",
                             node->inputs[0]->name, node->inputs[1]->name);
    }
    node->inputs[0] = a;
    node->inputs[1] = b;
    node->n_inputs = node->n_op_inputs =
        (step->operand == NN_OPERAND_SCALAR || b->is_const) ? 1 : 2;
    nn_tensor_set_shape(node->output, a->rank, a->shape);
    return 0;
}

void nn_elementwise_run(const nn_node *node, const nn_exec *ex)
{
    const nn_tensor *in = node->inputs[0];
    float *out = node->output->data;
    const int channels = channels_of(node->output);
    const size_t rows = node->output->size / (size_t)channels;
    const size_t per_chunk = channels < FLOATS_PER_CHUNK ? FLOATS_PER_CHUNK / channels : 1;
    const int chunks = nn_chunks(rows, per_chunk);
#pragma omp parallel for schedule(static) num_threads(ex->threads) if (chunks > 1)
    for (int c = 0; c < chunks; c++) {
        size_t r0 = (size_t)c * per_chunk;
        size_t r1 = r0 + per_chunk < rows ? r0 + per_chunk : rows;
        memcpy(out + r0 * channels, in->data + r0 * channels,
               (r1 - r0) * (size_t)channels * sizeof(float));
        nn_steps_apply(node->steps, node->n_steps, out, r0, r1, 0, channels, channels);
    }
}
