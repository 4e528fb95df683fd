/* Memory planning: every computed tensor gets a fixed offset in one arena.
 *
 * A tensor is live from the step that writes it to the last step that reads
 * it (graph outputs to the end, inputs from the start); aliases (Reshape,
 * Identity) extend the life of the tensor they share.  Tensors whose lives
 * overlap get disjoint memory, so an op never writes over its own inputs.
 * Placement is greedy, largest first, at the lowest offset free for the whole
 * life: for these chain-like graphs it comes close to the peak live size.
 * Scratch memory for the ops (im2col tiles) is a separate per-thread block.
 */
#include "nn/graph.h"
#include "core/error.h"
#include "core/image.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN_FLOATS 16 /* 64 bytes: a cache line, an AVX-512 vector */

static size_t align_up(size_t n)
{
    return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
}

static void touch(nn_tensor *t, int step)
{
    t = nn_tensor_root(t);
    if (t->is_const) return;
    if (t->first_step == -2) t->first_step = step;
    if (step > t->last_step) t->last_step = step;
}

static int compare_size(const void *a, const void *b)
{
    const nn_tensor *ta = *(nn_tensor *const *)a, *tb = *(nn_tensor *const *)b;
    if (ta->size != tb->size) return ta->size < tb->size ? 1 : -1;
    return ta->first_step - tb->first_step;
}

int nn_graph_plan(nn_model *m)
{
    for (int i = 0; i < m->n_tensors; i++)
        m->tensors[i]->first_step = m->tensors[i]->last_step = -2;
    for (int i = 0; i < m->n_inputs; i++)
        touch(m->input[i], -1);
    for (int i = 0; i < m->n_exec; i++) {
        nn_node *n = m->exec[i];
        for (int k = 0; k < n->n_inputs; k++)
            touch(n->inputs[k], i);
        if (!n->op->is_alias) touch(n->output, i);
    }
    for (int i = 0; i < m->n_outputs; i++)
        touch(m->output[i], m->n_exec);

    nn_tensor **live = malloc((size_t)m->n_tensors * sizeof *live);
    if (!live) return rt_error(RT_ERR_NOMEM, "out of memory");
    int n_live = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        nn_tensor *t = m->tensors[i];
        if (!t->is_const && !t->alias_of && t->first_step != -2) live[n_live++] = t;
    }
    qsort(live, (size_t)n_live, sizeof *live, compare_size);

    size_t total = 0;
    for (int i = 0; i < n_live; i++) {
        nn_tensor *t = live[i];
        size_t need = align_up(t->size);
        size_t offset = 0;
        /* Lowest offset clear of every placed tensor whose life overlaps. */
        for (int moved = 1; moved;) {
            moved = 0;
            for (int j = 0; j < i; j++) {
                const nn_tensor *o = live[j];
                if (o->last_step < t->first_step || t->last_step < o->first_step) continue;
                size_t o_end = o->offset + align_up(o->size);
                if (offset < o_end && o->offset < offset + need) {
                    offset = o_end;
                    moved = 1;
                }
            }
        }
        t->offset = offset;
        if (offset + need > total) total = offset + need;
    }

    rt_free(m->arena);
    m->arena = rt_alloc_floats(total ? total : ALIGN_FLOATS);
    if (!m->arena) {
        free(live);
        return rt_error(RT_ERR_NOMEM, "out of memory (%zu bytes of activations)",
                        total * sizeof(float));
    }
    /* Zeroed once so no uninitialised memory is ever read, even by a bug. */
    memset(m->arena, 0, (total ? total : ALIGN_FLOATS) * sizeof(float));
    m->arena_floats = total;
    for (int i = 0; i < n_live; i++)
        live[i]->data = m->arena + live[i]->offset;
    free(live);
    for (int i = 0; i < m->n_tensors; i++) {
        nn_tensor *t = m->tensors[i];
        if (t->alias_of) t->data = nn_tensor_root(t)->data;
    }

    size_t scratch = 0;
    for (int i = 0; i < m->n_exec; i++)
        if (m->exec[i]->scratch_floats > scratch) scratch = m->exec[i]->scratch_floats;
    m->threads = omp_get_max_threads();
    if (m->threads < 1) m->threads = 1;
    m->scratch_per_thread = align_up(scratch);
    rt_free(m->scratch);
    m->scratch = NULL;
    if (m->scratch_per_thread) {
        m->scratch = rt_alloc_floats(m->scratch_per_thread * (size_t)m->threads);
        if (!m->scratch) return rt_error(RT_ERR_NOMEM, "out of memory (scratch)");
    }
    return 0;
}
