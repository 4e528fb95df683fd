/* Internals shared by the loader, the planner and the ops (src/nn/ops/).
 *
 * The graph is a list of nodes; each node reads input tensors and writes one
 * output tensor.  Constant tensors own their data; every other tensor gets a
 * place in the model's arena at load (see plan.c).  An op is a table entry
 * (ops/registry.c) with a prepare() run once at load (checks attributes,
 * computes the output shape, precomputes what run() needs) and a run() that
 * cannot fail.
 *
 * Elementwise work (bias, activations, residual adds, per-channel scales) is
 * expressed as "steps" (epilogue.c).  An elementwise op is a node whose run()
 * applies its steps to a copy of its input; the fusion pass (fuse.c) moves
 * those steps onto the producing convolution, so they run on each output tile
 * while it is still in cache.
 */
#ifndef RT_NN_INTERNAL_H
#define RT_NN_INTERNAL_H

#include "nn/nn.h"

#include <jansson.h>
#include <omp.h>
#include <stddef.h>
#include <stdint.h>

typedef enum nn_dtype { NN_F32, NN_I32 } nn_dtype;

typedef struct nn_node nn_node;

typedef struct nn_tensor {
    char *name;
    nn_dtype dtype;
    int rank;
    int shape[NN_MAX_RANK];
    size_t size;
    int is_const;
    float *data;    /* F32 values: owned when const, else inside the arena */
    int32_t *idata; /* I32 const values (owned) */
    nn_node *producer;
    /* Reshape/Identity outputs share their input's storage. */
    struct nn_tensor *alias_of;
    /* Memory plan: live from the step that writes it to its last reader. */
    int first_step, last_step;
    size_t offset; /* floats from the arena start */
} nn_tensor;

/* ---- elementwise steps (epilogue.c) ---- */

typedef enum nn_step_kind {
    NN_STEP_ADD,
    NN_STEP_MUL,
    NN_STEP_MIN,
    NN_STEP_MAX,
    NN_STEP_RELU,
    NN_STEP_RELU6,
    NN_STEP_PRELU, /* x > 0 ? x : alpha * x, alpha per channel */
    NN_STEP_SIGMOID,
    NN_STEP_HARDSWISH, /* (scale * x) * relu6(x + 3): MobileNetV3 as exported */
} nn_step_kind;

typedef enum nn_operand_kind {
    NN_OPERAND_NONE,
    NN_OPERAND_SCALAR,  /* one constant */
    NN_OPERAND_CHANNEL, /* one value per channel (last axis) */
    NN_OPERAND_FULL,    /* a tensor of the output's shape */
} nn_operand_kind;

typedef struct nn_step {
    nn_step_kind kind;
    nn_operand_kind operand;
    float scalar;
    nn_tensor *tensor; /* CHANNEL or FULL operand (const or computed) */
} nn_step;

#define NN_MAX_STEPS 8

/* Applies steps to rows [row0, row1) and channels [col0, col1) of out, the
 * whole output tensor seen as rows of `channels` floats (so FULL operands,
 * indexed like out, line up). */
void nn_steps_apply(const nn_step *steps, int n_steps, float *out, size_t row0, size_t row1,
                    int col0, int col1, int channels);
const char *nn_step_name(nn_step_kind kind);

/* ---- ops ---- */

typedef struct nn_model nn_model;

/* What run() gets besides its node: per-thread scratch memory. */
typedef struct nn_exec {
    float *scratch;
    size_t scratch_per_thread; /* floats */
    int threads;
} nn_exec;

static inline float *nn_exec_scratch(const nn_exec *ex, int thread)
{
    return ex->scratch + (size_t)thread * ex->scratch_per_thread;
}

typedef struct nn_op {
    const char *type; /* TensorFlow op name */
    /* Checks attributes and inputs, sets the output shape, precomputes
     * node->params and node->scratch_floats.  Returns 0 or rt_error(). */
    int (*prepare)(nn_model *model, nn_node *node);
    void (*run)(const nn_node *node, const nn_exec *ex);
    void (*release)(nn_node *node); /* frees params' insides; may be NULL */
    /* The op applies node->steps to its output, so steps can be fused in. */
    int takes_steps;
    /* The output shares the input's storage (Reshape, Identity). */
    int is_alias;
} nn_op;

const nn_op *nn_op_find(const char *type);
/* Every op type the runtime implements, NULL-terminated (for the README). */
const nn_op *const *nn_op_all(void);

#define NN_MAX_INPUTS 8

struct nn_node {
    char *name;
    char *type;
    const nn_op *op;
    json_t *attr; /* borrowed from the parsed model.json; NULL after load */
    int n_inputs; /* the op's own inputs, then FULL/CHANNEL step operands */
    int n_op_inputs;
    nn_tensor *inputs[NN_MAX_INPUTS];
    nn_tensor *output;
    nn_step steps[NN_MAX_STEPS];
    int n_steps;
    void *params;          /* op-owned, free()d after release() */
    size_t scratch_floats; /* per thread */
    int dead;              /* fused away */
    int order;             /* position in the execution order */
    double profile_ms;
};

/* ---- helpers for ops (model.c) ---- */

/* Attributes of node (TF AttrValue JSON).  *_or return def when absent. */
int nn_attr_ints(const nn_node *node, const char *key, int *out, int max);
int nn_attr_int_or(const nn_node *node, const char *key, int def);
int nn_attr_bool_or(const nn_node *node, const char *key, int def);
float nn_attr_float_or(const nn_node *node, const char *key, float def);
/* Decoded string attribute ("SAME", "NHWC"...) into buf; 0, or -1 if absent. */
int nn_attr_string(const nn_node *node, const char *key, char *buf, size_t cap);
/* Number of strings in a list attribute (fused_ops), and the i-th. */
int nn_attr_string_list(const nn_node *node, const char *key, int index, char *buf, size_t cap);

/* Error for node: "model.json: node 'name' (Op): message". */
int nn_node_error(const nn_model *model, const nn_node *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* What a model may declare or compute: each dimension 1..NN_MAX_DIM and at
 * most NN_MAX_ELEMENTS values per tensor (1 GB of floats), so every product
 * of a tensor's dimensions fits an int.  The loader checks every tensor
 * against them, the ones it reads and the ones ops compute. */
#define NN_MAX_DIM (1 << 24)
#define NN_MAX_ELEMENTS ((size_t)1 << 28)

/* Checks rank (0..NN_MAX_RANK) and dimensions against the caps above and
 * sets *size (the count, computed without overflow); 0, or -1 with the
 * reason in *why. */
int nn_shape_check(int rank, const long long *dims, size_t *size, const char **why);

/* Sets t's shape; -1 (and size 0, which the loader refuses) when the shape
 * breaks the caps: ops may ignore the result. */
int nn_tensor_set_shape(nn_tensor *t, int rank, const int *shape);
/* A new constant F32 tensor owned by the model (for precomputed weights). */
nn_tensor *nn_model_new_const(nn_model *model, const char *name, int rank, const int *shape);

/* Padding for one spatial axis with TensorFlow's SAME/VALID rules. */
typedef enum nn_padding { NN_PAD_VALID, NN_PAD_SAME } nn_padding;
int nn_conv_out_size(int in, int kernel, int stride, nn_padding pad, int *pad_before);
int nn_attr_padding(const nn_model *model, const nn_node *node, nn_padding *out);
/* Strides (and dilations when dilations != NULL) for NHWC ops, checked. */
int nn_attr_nhwc_window(const nn_model *model, const nn_node *node, const char *key, int *h,
                        int *w);

/* Converts an elementwise node into one step applied to inputs[0] (or to the
 * non-constant input), shared by the elementwise op files. */
int nn_elementwise_prepare(nn_model *model, nn_node *node, nn_step_kind kind, int binary);
void nn_elementwise_run(const nn_node *node, const nn_exec *ex);

/* Splits n items into chunks of a fixed size that does not depend on the
 * thread count, so every result is computed the same way on any machine. */
static inline int nn_chunks(size_t n, size_t chunk)
{
    return (int)((n + chunk - 1) / chunk);
}

#endif
