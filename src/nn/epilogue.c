/* Elementwise steps applied to a block of rows of an op's output.
 *
 * One pass per step over the block: the block is a tile that the producing op
 * has just written, so it is in L1/L2 and each simple loop vectorises.  Every
 * step does the same float operations as the TensorFlow.js op it replaces,
 * in the same order, so fusing changes no result.
 */
#include "nn/nn_internal.h"

#include <math.h>

const char *nn_step_name(nn_step_kind kind)
{
    switch (kind) {
    case NN_STEP_ADD:
        return "add";
    case NN_STEP_MUL:
        return "mul";
    case NN_STEP_MIN:
        return "min";
    case NN_STEP_MAX:
        return "max";
    case NN_STEP_RELU:
        return "relu";
    case NN_STEP_RELU6:
        return "relu6";
    case NN_STEP_PRELU:
        return "prelu";
    case NN_STEP_SIGMOID:
        return "sigmoid";
    case NN_STEP_HARDSWISH:
        return "hardswish";
    }
    return "?";
}

static inline float op_add(float a, float b)
{
    return a + b;
}
static inline float op_mul(float a, float b)
{
    return a * b;
}
static inline float op_min(float a, float b)
{
    return a < b ? a : b;
}
static inline float op_max(float a, float b)
{
    return a > b ? a : b;
}

/* Applies step to `len` floats at out; `c0` is the channel of out[0] and the
 * run lies inside one row (CHANNEL operands) unless the step ignores channels;
 * `t` is the matching position in a FULL operand. */
#define BINARY_STEP(fn)                                                                            \
    do {                                                                                           \
        if (step->operand == NN_OPERAND_SCALAR) {                                                  \
            const float s = step->scalar;                                                          \
            for (size_t i = 0; i < len; i++)                                                       \
                out[i] = fn(out[i], s);                                                            \
        } else if (step->operand == NN_OPERAND_CHANNEL) {                                          \
            const float *restrict v = step->tensor->data + c0;                                     \
            for (size_t i = 0; i < len; i++)                                                       \
                out[i] = fn(out[i], v[i]);                                                         \
        } else {                                                                                   \
            for (size_t i = 0; i < len; i++)                                                       \
                out[i] = fn(out[i], t[i]);                                                         \
        }                                                                                          \
    } while (0)

static void apply_run(const nn_step *step, float *restrict out, const float *restrict t, size_t len,
                      int c0)
{
    switch (step->kind) {
    case NN_STEP_ADD:
        BINARY_STEP(op_add);
        break;
    case NN_STEP_MUL:
        BINARY_STEP(op_mul);
        break;
    case NN_STEP_MIN:
        BINARY_STEP(op_min);
        break;
    case NN_STEP_MAX:
        BINARY_STEP(op_max);
        break;
    case NN_STEP_RELU:
        for (size_t i = 0; i < len; i++)
            out[i] = out[i] > 0.0f ? out[i] : 0.0f;
        break;
    case NN_STEP_RELU6:
        for (size_t i = 0; i < len; i++) {
            float v = out[i] > 0.0f ? out[i] : 0.0f;
            out[i] = v < 6.0f ? v : 6.0f;
        }
        break;
    case NN_STEP_PRELU: {
        const float *restrict alpha = step->tensor->data + c0;
        for (size_t i = 0; i < len; i++)
            out[i] = out[i] < 0.0f ? alpha[i] * out[i] : out[i];
        break;
    }
    case NN_STEP_SIGMOID:
        for (size_t i = 0; i < len; i++)
            out[i] = 1.0f / (1.0f + expf(-out[i]));
        break;
    case NN_STEP_HARDSWISH: {
        const float s = step->scalar;
        for (size_t i = 0; i < len; i++) {
            float x = out[i];
            float g = x + 3.0f;
            g = g > 0.0f ? g : 0.0f;
            g = g < 6.0f ? g : 6.0f;
            out[i] = (s * x) * g;
        }
        break;
    }
    }
}

static int step_uses_channel(const nn_step *step)
{
    return step->operand == NN_OPERAND_CHANNEL || step->kind == NN_STEP_PRELU;
}

void nn_steps_apply(const nn_step *steps, int n_steps, float *out, size_t row0, size_t row1,
                    int col0, int col1, int channels)
{
    const int whole_rows = col0 == 0 && col1 == channels;
    for (int k = 0; k < n_steps; k++) {
        const nn_step *step = &steps[k];
        const float *full = step->operand == NN_OPERAND_FULL ? step->tensor->data : NULL;
        if (whole_rows && !step_uses_channel(step)) {
            size_t off = row0 * (size_t)channels;
            apply_run(step, out + off, full ? full + off : NULL, (row1 - row0) * (size_t)channels,
                      0);
            continue;
        }
        for (size_t r = row0; r < row1; r++) {
            size_t off = r * (size_t)channels + (size_t)col0;
            apply_run(step, out + off, full ? full + off : NULL, (size_t)(col1 - col0), col0);
        }
    }
}
