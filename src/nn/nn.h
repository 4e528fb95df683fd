/* nn: a small runtime for TensorFlow.js graph models (model.json + weight
 * shards), exact to TensorFlow.js within float rounding and fast on CPUs.
 *
 * A model is loaded once: the graph is parsed, weights decoded (float32,
 * float16 and uint8/uint16 affine-quantised), elementwise ops fused into the
 * convolutions that feed them, and every intermediate tensor given a fixed
 * place in one arena.  nn_model_run() then allocates nothing.  Tensors are
 * float32, NHWC, batch 1 (a batch dimension of -1 in the model is fixed to 1).
 *
 * Ownership: nn_model_load() returns a model owned by the caller, released
 * with nn_model_destroy().  nn_tensor_info pointers and names belong to the
 * model and live as long as it.  A model is not reentrant: run it from one
 * thread at a time (load one model per worker thread for parallel jobs).
 * nn_model_run() uses OpenMP threads inside; its results are bit-identical
 * for any thread count.
 *
 * Errors follow core/error.h: functions return 0 or a negative rt_err code
 * (RT_ERR_MODEL for a missing, corrupt or unsupported model) with a message.
 */
#ifndef RT_NN_NN_H
#define RT_NN_NN_H

#include <stddef.h>

#define NN_MAX_RANK 4

/* What every "model missing or corrupt" message ends with (one wording for
 * the whole engine). */
#define NN_INSTALL_HINT "install the models with 'make setup' or 'scripts/fetch-models'"

typedef struct nn_model nn_model;

/* An input or output of a model. */
typedef struct nn_tensor_info {
    const char *name; /* graph node name, e.g. "Identity_2" or "input_1" */
    const char *key;  /* signature key, e.g. "output_mesh" (= name when none) */
    int rank;
    int shape[NN_MAX_RANK];
    size_t size; /* number of floats */
} nn_tensor_info;

/* Loads the graph model whose model.json is at json_path (weight shards are
 * read from the same folder).  A missing file is reported with the command
 * that installs the models; an op the runtime lacks fails here, naming the op
 * and the node. */
int nn_model_load(const char *json_path, nn_model **out);
void nn_model_destroy(nn_model *model);

int nn_model_input_count(const nn_model *model);
int nn_model_output_count(const nn_model *model);
/* Inputs in signature order; outputs sorted by node name (Identity,
 * Identity_1, ...), which is the order TensorFlow.js returns them in. */
const nn_tensor_info *nn_model_input(const nn_model *model, int index);
const nn_tensor_info *nn_model_output(const nn_model *model, int index);
/* Index of the output whose node name, "name:0" or signature key is name;
 * -1 when there is none. */
int nn_model_output_index(const nn_model *model, const char *name);

/* Runs the model: inputs[i] holds nn_model_input(i)->size floats (NHWC),
 * outputs[i] receives nn_model_output(i)->size floats; an outputs[i] of NULL
 * skips that copy.  Fails only on bad arguments. */
int nn_model_run(nn_model *model, const float *const *inputs, float *const *outputs);

/* Bytes of the activation arena and of the decoded weights, for logs. */
size_t nn_model_arena_bytes(const nn_model *model);
size_t nn_model_weight_bytes(const nn_model *model);

/* Folder of the installed models: $RT_MODELS_DIR, else <source>/models.
 * nn_model_path() writes "<dir>/<file>" into buf (size cap). */
const char *nn_models_dir(void);
int nn_model_path(const char *file, char *buf, size_t cap);

/* Per-op timing for benchmarks: when on, nn_model_run() adds each node's
 * wall time; nn_model_profile_print() writes a table sorted by time. */
void nn_model_profile(nn_model *model, int on);
void nn_model_profile_print(const nn_model *model, void *file /* FILE * */);

#endif
