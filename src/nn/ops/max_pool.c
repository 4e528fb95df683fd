/* MaxPool: the largest value of each window, per channel; SAME padding
 * ignores the positions outside the input (as TensorFlow does). */
#include "nn/ops/pool.h"

#include <float.h>

static void run(const nn_node *node, const nn_exec *ex)
{
    const pool_params *p = node->params;
    const float *in = node->inputs[0]->data;
    float *out = node->output->data;
    const int c = p->c;
#pragma omp parallel for schedule(static) num_threads(ex->threads) if (p->oh > 1)
    for (int oy = 0; oy < p->oh; oy++) {
        for (int ox = 0; ox < p->ow; ox++) {
            float *restrict o = out + ((size_t)oy * p->ow + ox) * c;
            for (int ch = 0; ch < c; ch++)
                o[ch] = -FLT_MAX;
            for (int ky = 0; ky < p->kh; ky++) {
                const int iy = oy * p->sh - p->pad_top + ky;
                if (iy < 0 || iy >= p->h) continue;
                for (int kx = 0; kx < p->kw; kx++) {
                    const int ix = ox * p->sw - p->pad_left + kx;
                    if (ix < 0 || ix >= p->w) continue;
                    const float *restrict ip = in + ((size_t)iy * p->w + ix) * c;
                    for (int ch = 0; ch < c; ch++)
                        o[ch] = ip[ch] > o[ch] ? ip[ch] : o[ch];
                }
            }
        }
        nn_steps_apply(node->steps, node->n_steps, out, (size_t)oy * p->ow,
                       (size_t)(oy + 1) * p->ow, 0, c, c);
    }
}

const nn_op nn_op_max_pool = {
    .type = "MaxPool",
    .prepare = nn_pool_prepare,
    .run = run,
    .takes_steps = 1,
};
