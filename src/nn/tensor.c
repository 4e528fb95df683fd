/* Tensor bookkeeping for the loader and the ops: tensors owned by the
 * model, their shapes checked against the caps of nn_internal.h. */
#include "core/error.h"
#include "core/image.h"
#include "nn/graph.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

nn_tensor *nn_graph_add_tensor(nn_model *m, const char *name)
{
    if (m->n_tensors == m->cap_tensors) {
        int cap = m->cap_tensors ? 2 * m->cap_tensors : 256;
        nn_tensor **grown = realloc(m->tensors, (size_t)cap * sizeof *grown);
        if (!grown) return NULL;
        m->tensors = grown;
        m->cap_tensors = cap;
    }
    nn_tensor *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->name = strdup(name);
    if (!t->name) {
        free(t);
        return NULL;
    }
    t->first_step = t->last_step = -2;
    m->tensors[m->n_tensors++] = t;
    return t;
}

int nn_shape_check(int rank, const long long *dims, size_t *size, const char **why)
{
    *size = 0;
    if (rank < 0 || rank > NN_MAX_RANK) {
        *why = "rank over 4";
        return -1;
    }
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 1 || dims[i] > NN_MAX_DIM) {
            *why = dims[i] < 1 ? "a dimension below 1" : "a dimension over 16777216";
            return -1;
        }
        /* n <= 2^28 and dims[i] <= 2^24: the product fits size_t */
        n *= (size_t)dims[i];
        if (n > NN_MAX_ELEMENTS) {
            *why = "more than 268435456 values";
            return -1;
        }
    }
    *size = n;
    return 0;
}

int nn_tensor_set_shape(nn_tensor *t, int rank, const int *shape)
{
    long long dims[NN_MAX_RANK] = {0}; /* -O1 cannot see rank bounds the loop below */
    const char *why;
    int r = rank < 0 ? 0 : rank > NN_MAX_RANK ? NN_MAX_RANK : rank;
    for (int i = 0; i < r; i++)
        dims[i] = shape[i];
    int rc = nn_shape_check(rank, dims, &t->size, &why);
    t->rank = r;
    for (int i = 0; i < r; i++)
        t->shape[i] = shape[i];
    return rc;
}

nn_tensor *nn_model_new_const(nn_model *model, const char *name, int rank, const int *shape)
{
    nn_tensor *t = nn_graph_add_tensor(model, name);
    if (!t) return NULL;
    nn_tensor_set_shape(t, rank, shape);
    t->is_const = 1;
    t->dtype = NN_F32;
    t->data = rt_alloc_floats(t->size ? t->size : 1);
    if (!t->data) return NULL;
    memset(t->data, 0, (t->size ? t->size : 1) * sizeof(float));
    model->weight_bytes += t->size * sizeof(float);
    return t;
}

nn_tensor *nn_tensor_root(nn_tensor *t)
{
    while (t->alias_of)
        t = t->alias_of;
    return t;
}

int nn_node_error(const nn_model *model, const nn_node *node, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rt_error(RT_ERR_MODEL, "%s: node '%s' (%s): %s", model->path, node->name, node->type,
                    msg);
}
