/* AvgPool: the mean of each window's positions inside the input, per
 * channel.  Sums in double like TensorFlow.js's CPU kernel, so even the
 * whole-image windows of squeeze-excitation blocks match it closely. */
#include "nn/ops/pool.h"

#include <stdlib.h>

static void run(const nn_node *node, const nn_exec *ex)
{
    const pool_params *p = node->params;
    const float *in = node->inputs[0]->data;
    float *out = node->output->data;
    const int c = p->c;
    const int tasks = p->oh * p->ow;
#pragma omp parallel for schedule(static) num_threads(ex->threads) if (tasks > 1)
    for (int t = 0; t < tasks; t++) {
        const int oy = t / p->ow, ox = t % p->ow;
        double *sum = (double *)(void *)nn_exec_scratch(ex, omp_get_thread_num());
        for (int ch = 0; ch < c; ch++)
            sum[ch] = 0;
        int count = 0;
        for (int ky = 0; ky < p->kh; ky++) {
            const int iy = oy * p->sh - p->pad_top + ky;
            if (iy < 0 || iy >= p->h) continue;
            for (int kx = 0; kx < p->kw; kx++) {
                const int ix = ox * p->sw - p->pad_left + kx;
                if (ix < 0 || ix >= p->w) continue;
                const float *ip = in + ((size_t)iy * p->w + ix) * c;
                for (int ch = 0; ch < c; ch++)
                    sum[ch] += ip[ch];
                count++;
            }
        }
        float *o = out + (size_t)t * c;
        for (int ch = 0; ch < c; ch++)
            o[ch] = (float)(sum[ch] / count);
        nn_steps_apply(node->steps, node->n_steps, out, (size_t)t, (size_t)t + 1, 0, c, c);
    }
}

static int prepare(nn_model *model, nn_node *node)
{
    int rc = nn_pool_prepare(model, node);
    if (rc == 0) node->scratch_floats = 2 * (size_t)node->inputs[0]->shape[3]; /* doubles */
    return rc;
}

const nn_op nn_op_avg_pool = {
    .type = "AvgPool",
    .prepare = prepare,
    .run = run,
    .takes_steps = 1,
};
