/* MatMul and _FusedMatMul: a [m, k] (computed) times b [k, n] (constant),
 * then the fused bias/activation steps: the dense layers of classifier heads.
 * transpose_b is handled by transposing the constant once at load. */
#include "nn/ops/fused_ops.h"
#include "nn/ops/gemm.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct matmul_params {
    int m, k, n, tile_n, tasks;
    const float *b;
} matmul_params;

#define TILE_N 64

static int prepare(nn_model *model, nn_node *node)
{
    if (node->n_op_inputs < 2) return nn_node_error(model, node, "expected two inputs");
    const nn_tensor *a = node->inputs[0], *b = node->inputs[1];
    if (a->rank != 2 || b->rank != 2 || !b->is_const || b->dtype != NN_F32)
        return nn_node_error(model, node, "expected a [m,k] tensor times a constant [k,n]");
    if (nn_attr_bool_or(node, "transpose_a", 0))
        return nn_node_error(model, node, "transpose_a is not supported");
    const int tb = nn_attr_bool_or(node, "transpose_b", 0);
    matmul_params *p = calloc(1, sizeof *p);
    if (!p) return nn_node_error(model, node, "out of memory");
    node->params = p;
    p->m = a->shape[0];
    p->k = a->shape[1];
    p->n = tb ? b->shape[0] : b->shape[1];
    if ((tb ? b->shape[1] : b->shape[0]) != p->k)
        return nn_node_error(model, node, "inner dimensions differ");
    p->b = b->data;
    if (tb) {
        int shape[2] = {p->k, p->n};
        char name[512];
        snprintf(name, sizeof name, "%s/transposed_b", node->name);
        nn_tensor *t = nn_model_new_const(model, name, 2, shape);
        if (!t) return nn_node_error(model, node, "out of memory");
        for (int i = 0; i < p->n; i++)
            for (int j = 0; j < p->k; j++)
                t->data[(size_t)j * p->n + i] = b->data[(size_t)i * p->k + j];
        p->b = t->data;
    }
    int rc = nn_fused_ops_to_steps(model, node, 2, p->n);
    if (rc) return rc;
    p->tile_n = TILE_N;
    p->tasks = nn_chunks((size_t)p->n, TILE_N);
    int shape[2] = {p->m, p->n};
    nn_tensor_set_shape(node->output, 2, shape);
    node->n_inputs = node->n_op_inputs = 1;
    return 0;
}

static void run(const nn_node *node, const nn_exec *ex)
{
    const matmul_params *p = node->params;
    const float *a = node->inputs[0]->data;
    float *out = node->output->data;
#pragma omp parallel for schedule(static) num_threads(ex->threads) if (p->tasks > 1)
    for (int t = 0; t < p->tasks; t++) {
        const int n0 = t * p->tile_n;
        const int n1 = n0 + p->tile_n < p->n ? n0 + p->tile_n : p->n;
        nn_gemm(p->m, n1 - n0, p->k, a, p->k, p->b + n0, p->n, out + n0, p->n);
        nn_steps_apply(node->steps, node->n_steps, out, 0, (size_t)p->m, n0, n1, p->n);
    }
}

const nn_op nn_op_matmul = {
    .type = "MatMul",
    .prepare = prepare,
    .run = run,
    .takes_steps = 1,
};

const nn_op nn_op_fused_matmul = {
    .type = "_FusedMatMul",
    .prepare = prepare,
    .run = run,
    .takes_steps = 1,
};
