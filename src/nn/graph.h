/* The model object and the load-time passes over its graph (model.c, fuse.c,
 * plan.c).  Ops do not need this header. */
#ifndef RT_NN_GRAPH_H
#define RT_NN_GRAPH_H

#include "nn/nn_internal.h"

#define NN_MAX_IO 8

struct nn_model {
    char *path; /* model.json, for messages */
    nn_tensor **tensors;
    int n_tensors, cap_tensors;
    nn_node **nodes; /* every op node (Const and Placeholder become tensors) */
    int n_nodes;
    nn_node **exec; /* live nodes in execution order */
    int n_exec;

    int n_inputs, n_outputs;
    nn_tensor *input[NN_MAX_IO];
    nn_tensor *output[NN_MAX_IO];
    nn_tensor_info input_info[NN_MAX_IO];
    nn_tensor_info output_info[NN_MAX_IO];
    char *output_key[NN_MAX_IO];
    char *input_key[NN_MAX_IO];

    float *arena;
    size_t arena_floats;
    float *scratch;
    size_t scratch_per_thread;
    int threads;
    size_t weight_bytes;
    int profile;
};

nn_tensor *nn_tensor_root(nn_tensor *t);
/* A new tensor owned by the model (name copied); NULL when out of memory. */
nn_tensor *nn_graph_add_tensor(nn_model *model, const char *name);
/* The one parser of shapes in model.json: dims is a JSON array of
 * integers (weights) or, for a placeholder, of {"size": n} objects where -1
 * (an unknown batch) means 1.  Checked with nn_shape_check(); 0, or
 * RT_ERR_MODEL naming what (a weight or input name) and why. */
int nn_shape_parse(const nn_model *model, json_t *dims, int placeholder, const char *what,
                   int *rank, int shape[NN_MAX_RANK]);

/* Decodes the weightsManifest of model.json into constant tensors, reading
 * the shards from dir (weights.c). */
int nn_weights_load(nn_model *model, json_t *manifest, const char *dir);

/* Orders the live nodes so each runs after its inputs' producers; sets
 * node->order and model->exec.  Fails on a cycle. */
int nn_graph_sort(nn_model *model);
/* Moves elementwise steps into the ops producing their inputs (fuse.c). */
int nn_graph_fuse(nn_model *model);
/* Gives every computed tensor its place in one arena (plan.c). */
int nn_graph_plan(nn_model *model);

#endif
