/* A job: one input image run through one payload (API.md "Output").
 *
 * The running image starts as the decoded input; each task's plugin reads it
 * and returns a layer, which is quantised to the output precision first and
 * then composited back, so the stored layers reproduce `flattened` exactly
 * (the compositing invariant).  Layered tasks keep their encoded PNG for the
 * ZIP; Layer 0 tasks that change the image before the first layered task
 * produce base.png.
 *
 * The public API (retouch.h) is implemented on top of this in api.c.
 */
#ifndef RT_PIPELINE_JOB_H
#define RT_PIPELINE_JOB_H

#include "io/image_io.h"
#include "payload/payload.h"
#include "retouch.h"

#include <jansson.h>

typedef struct rt_layer_file {
    int index;        /* n in index=<n>&... */
    int task_index;   /* position in tasks[] */
    const char *name; /* canonical plugin name */
    rt_blend blend;
    char file[160];
    void *png;
    size_t png_len;
} rt_layer_file;

struct rt_job {
    const rt_payload *payload;
    rt_job_options opt;
    char *input_name;

    rt_decoded *input; /* format, bits, metadata; its image is moved to `running` */
    rt_image *running; /* the running image */
    float *alpha;      /* the input's alpha (transformed by geometry tasks) */

    rt_file_format out_format;
    int forced_format; /* rt_file_format from options.output_format, or -1 */
    int layered;
    rt_layer_file *layers;
    size_t nlayers;
    void *base_png;
    size_t base_len;

    struct rt_face_analysis *face_analysis; /* computed at first need, see plugin.h */
    /* The skin region a Skin Mask task with Layer 0 set for the later skin
     * plugins (1 channel, placed at skin_x, skin_y), or NULL. */
    rt_image *skin_mask;
    int skin_x, skin_y;

    json_t *plugins;  /* result.json "plugins" */
    json_t *warnings; /* result.json "warnings" */

    int current_task;
    double progress;
    rt_step step;
    int ran;
    int cancelled;
};

/* Share of the progress bar for each phase: reading up to READ_END, the
 * tasks up to TASKS_END (each an equal share), then writing. */
#define RT_PROGRESS_READ_END 0.10
#define RT_PROGRESS_TASKS_END 0.90

/* Sets the job's step and progress (never decreasing) and calls the
 * progress callback; a non-zero answer cancels the job. */
void rt_job_report(rt_job *job, rt_step step, const char *plugin, double progress);
void rt_job_warn(rt_job *job, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* RT_ERR_NOT_IMPLEMENTED (462) naming the first task whose plugin this
 * build cannot run; 0 when every task can run. */
int rt_payload_check_runnable(const rt_payload *payload);

#endif
