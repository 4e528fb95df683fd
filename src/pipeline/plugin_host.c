/* The host functions plugins call (plugins/plugin.h): warnings, progress,
 * the job's face analysis (computed at first need and cached), the skin
 * weight and the writable running image.  The pipeline calls the plugins
 * and the plugins call back here: this file is the one place where that
 * two-way dependency between pipeline/ and plugins/ lives.
 */
#include "core/error.h"
#include "face/analysis.h"
#include "face/models.h"
#include "face/skin.h"
#include "pipeline/job.h"
#include "plugins/plugin.h"

#include <stdarg.h>
#include <stdio.h>

void rt_plugin_warn(rt_plugin_ctx *ctx, const char *fmt, ...)
{
    char buf[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    rt_job_warn(ctx->job, "tasks[%d] (%s): %s", ctx->task->index, ctx->task->spec->name, buf);
}

void rt_plugin_progress(rt_plugin_ctx *ctx, double fraction)
{
    rt_job *job = ctx->job;
    size_t n = job->payload->ntasks ? job->payload->ntasks : 1;
    double span = (RT_PROGRESS_TASKS_END - RT_PROGRESS_READ_END) / (double)n;
    if (fraction < 0) fraction = 0;
    if (fraction > 1) fraction = 1;
    rt_job_report(job, RT_STEP_PROCESSING, ctx->task->spec->name,
                  RT_PROGRESS_READ_END + span * ((double)job->current_task + fraction));
}

/* The analysis takes the first half of the task's share of the bar. */
static void analysis_progress(void *user, double fraction)
{
    rt_plugin_ctx *ctx = user;
    rt_job *job = ctx->job;
    size_t n = job->payload->ntasks ? job->payload->ntasks : 1;
    double span = (RT_PROGRESS_TASKS_END - RT_PROGRESS_READ_END) / (double)n;
    rt_job_report(job, RT_STEP_ANALYSING, ctx->task->spec->name,
                  RT_PROGRESS_READ_END + span * ((double)job->current_task + 0.5 * fraction));
}

rt_image *rt_plugin_writable_image(rt_plugin_ctx *ctx)
{
    return ctx->job->running;
}

int rt_plugin_face_analysis(rt_plugin_ctx *ctx, const struct rt_face_analysis **out)
{
    rt_job *job = ctx->job;
    *out = NULL;
    if (!job->face_analysis) {
        analysis_progress(ctx, 0.0);
        rt_face_models *models;
        int err = rt_face_models_acquire(job->opt.models_dir, &models);
        if (err) return err;
        err = rt_face_analysis_create(job->running, models, analysis_progress, ctx,
                                      &job->face_analysis);
        rt_face_models_release(models);
        if (err) return err;
        rt_plugin_progress(ctx, 0.5);
    }
    *out = job->face_analysis;
    return 0;
}

int rt_plugin_skin_weight(rt_plugin_ctx *ctx, int face_index, int x0, int y0, int w, int h,
                          float *dst, size_t stride)
{
    rt_job *job = ctx->job;
    const rt_image *m = job->skin_mask;
    if (m) {
        /* a Skin Mask task with Layer 0 decided where skin is, for every face */
        for (int y = 0; y < h; y++) {
            float *d = dst + (size_t)y * stride;
            int my = y0 + y - job->skin_y;
            for (int x = 0; x < w; x++) {
                int mx = x0 + x - job->skin_x;
                d[x] = my >= 0 && my < m->height && mx >= 0 && mx < m->width
                           ? m->data[(size_t)my * m->width + mx]
                           : 0.0f;
            }
        }
        return 0;
    }
    const struct rt_face_analysis *a;
    int err = rt_plugin_face_analysis(ctx, &a);
    if (err) return err;
    return rt_face_skin_weight(a, job->running, face_index, x0, y0, w, h, dst, stride);
}
