/* Running a loaded model, and its per-node profile. */
#include "core/error.h"
#include "nn/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

int nn_model_run(nn_model *m, const float *const *inputs, float *const *outputs)
{
    if (!m || !inputs) return rt_error(RT_ERR_ARG, "nn_model_run: no model or inputs");
    for (int i = 0; i < m->n_inputs; i++) {
        if (!inputs[i]) return rt_error(RT_ERR_ARG, "nn_model_run: input %d is NULL", i);
        memcpy(m->input[i]->data, inputs[i], m->input[i]->size * sizeof(float));
    }
    nn_exec ex = {m->scratch, m->scratch_per_thread, m->threads};
    for (int i = 0; i < m->n_exec; i++) {
        const nn_node *n = m->exec[i];
        if (!n->op->run) continue; /* aliases (Reshape, Identity) only rename storage */
        if (m->profile) {
            double t0 = now_ms();
            n->op->run(n, &ex);
            m->exec[i]->profile_ms += now_ms() - t0;
        } else {
            n->op->run(n, &ex);
        }
    }
    for (int i = 0; outputs && i < m->n_outputs; i++)
        if (outputs[i])
            memcpy(outputs[i], nn_tensor_root(m->output[i])->data + 0,
                   m->output[i]->size * sizeof(float));
    return 0;
}

void nn_model_profile(nn_model *m, int on)
{
    m->profile = on;
    for (int i = 0; i < m->n_exec; i++)
        m->exec[i]->profile_ms = 0;
}

static int compare_profile(const void *a, const void *b)
{
    const nn_node *na = *(nn_node *const *)a, *nb = *(nn_node *const *)b;
    return na->profile_ms < nb->profile_ms ? 1 : na->profile_ms > nb->profile_ms ? -1 : 0;
}

void nn_model_profile_print(const nn_model *m, void *file)
{
    FILE *f = file;
    nn_node **sorted = malloc((size_t)m->n_exec * sizeof *sorted);
    if (!sorted) return;
    memcpy(sorted, m->exec, (size_t)m->n_exec * sizeof *sorted);
    qsort(sorted, (size_t)m->n_exec, sizeof *sorted, compare_profile);
    double total = 0;
    for (int i = 0; i < m->n_exec; i++)
        total += sorted[i]->profile_ms;
    for (int i = 0; i < m->n_exec; i++) {
        const nn_node *n = sorted[i];
        if (!n->op->run) continue;
        char shape[64] = "";
        for (int d = 0; d < n->output->rank; d++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%d", d ? "x" : "",
                     n->output->shape[d]);
        fprintf(f, "%8.3f ms %5.1f%%  %-22s %-16s %s\n", n->profile_ms,
                total > 0 ? 100 * n->profile_ms / total : 0, n->type, shape, n->name);
    }
    free(sorted);
}
