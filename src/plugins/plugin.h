/* The shape every plugin has (DESIGN.md "A plugin").
 *
 * A plugin is one file in src/plugins/ defining a `const rt_plugin` and one
 * run function; adding it to the registry is one line in registry.c.  Its
 * parameters (names, ranges, defaults, blend mode) are in the parameter table
 * (src/payload/plugin_table.c), which the payload validator already enforced.
 *
 * run() reads the running image and returns, in rt_plugin_output, either
 *   - a layer: RGBA planar float covering the rectangle (x, y, w, h) of the
 *     running image, composited by the pipeline with the task's blend mode
 *     (a 1-channel layer for RT_BLEND_MASK); NULL when nothing changes;
 *   - or a replacement image (geometry plugins: Crop), which becomes the
 *     running image;
 * plus optional metadata for result.json.  The pipeline owns everything the
 * plugin hands back.  run() must be deterministic for any thread count.
 */
#ifndef RT_PLUGINS_PLUGIN_H
#define RT_PLUGINS_PLUGIN_H

#include "core/blend.h"
#include "core/image.h"
#include "payload/payload.h"

#include <jansson.h>

/* Analysis a plugin needs before it runs (reported as the "analysing" step). */
enum {
    RT_NEEDS_NOTHING = 0,
    RT_NEEDS_FACES = 1 << 0,       /* detection, mesh, iris */
    RT_NEEDS_PERSON_MASK = 1 << 1, /* person segmentation */
};

typedef struct rt_plugin_ctx rt_plugin_ctx;

typedef struct rt_plugin_output {
    rt_image *layer;      /* RGBA (or 1 channel for masks), owned by the pipeline after run() */
    int x, y;             /* where the layer's top-left corner sits in the running image */
    rt_image *replace;    /* new running image (geometry), or NULL */
    float *replace_alpha; /* the input's alpha plane, transformed like `replace` */
    json_t *metadata;     /* result.json "metadata" of this task, or NULL (reference stolen) */
    int quantized;        /* the layer is already rounded with rt_quantize_row (ctx->bits) */
    /* What the ZIP stores instead of the placed layer (a patch layout: the
     * plugin's own packing, described in its metadata), or NULL. */
    rt_image *stored_layer;
} rt_plugin_output;

typedef struct rt_plugin {
    const char *name; /* canonical name, as in the parameter table */
    unsigned needs;   /* RT_NEEDS_* */
    int (*run)(rt_plugin_ctx *ctx, rt_plugin_output *out);
} rt_plugin;

/* What run() may read. */
struct rt_plugin_ctx {
    const rt_task *task;
    const rt_image *image; /* the running image (RGB, planar float) */
    const float *alpha;    /* the input's alpha plane, or NULL */
    int bits;              /* 8 or 16: precision of the output */
    struct rt_job *job;    /* for warnings and the job's analysis cache */
};

/* Adds a warning to result.json ("tasks[2] (Crop): ..." prefix added). */
void rt_plugin_warn(rt_plugin_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* For pointwise plugins whose result is an opaque, full-size, normal layer
 * (Color Correction): the running image itself, to overwrite in place once
 * the plugin has read what it needs; return it as out->layer.  Saves a
 * full-size allocation (288 MB at 24 MP).  If run() then fails, the job
 * fails: the image may be half written. */
rt_image *rt_plugin_writable_image(rt_plugin_ctx *ctx);

/* Reports progress inside the task, fraction in [0,1]. */
void rt_plugin_progress(rt_plugin_ctx *ctx, double fraction);

/* The job's face analysis (face/analysis.h: faces, mesh, iris, scale, age,
 * gender, glasses, person mask), computed on the running image at the first
 * call (the "analysing" step; plugins with RT_NEEDS_FACES or
 * RT_NEEDS_PERSON_MASK get it computed before run()) and kept until a
 * geometry task replaces the image.  Owned by the job: valid during run(). */
struct rt_face_analysis;
int rt_plugin_face_analysis(rt_plugin_ctx *ctx, const struct rt_face_analysis **out);

/* Where the skin plugins (Heal, Dodge Burn, Skin Tone, Mattifier, Portrait
 * Volumes) may work, 0..1, for the rectangle (x0, y0, w, h) of the running
 * image, row stride `stride` floats: the mask of a Skin Mask task run with
 * Layer 0 earlier in the job when there is one (for every face), otherwise
 * face `face_index`'s visible skin (every face's when < 0), face/skin.h.
 * Computes the face analysis if the job has none yet. */
int rt_plugin_skin_weight(rt_plugin_ctx *ctx, int face_index, int x0, int y0, int w, int h,
                          float *dst, size_t stride);

/* Looks a plugin up by canonical name; NULL when not implemented yet. */
const rt_plugin *rt_plugin_find(const char *canonical_name);

#endif
