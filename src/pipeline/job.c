#include "pipeline/job.h"

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/quantize.h"
#include "face/analysis.h"
#include "io/zip_writer.h"
#include "plugins/plugin.h"

#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void rt_job_report(rt_job *job, rt_step step, const char *plugin, double progress)
{
    if (progress < job->progress) progress = job->progress;
    if (progress > 1.0) progress = 1.0;
    job->progress = progress;
    job->step = step;
    if (job->opt.progress &&
        job->opt.progress(job->opt.progress_user, step, plugin ? plugin : "", progress))
        job->cancelled = 1;
}

void rt_job_warn(rt_job *job, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_array_append_new(job->warnings, json_string(buf));
}

/* options.output_format, checked before any work: a format this machine
 * cannot write is an error here, never a JPEG under another name later. */
static int forced_output_format(rt_job *job)
{
    static const struct {
        const char *name;
        rt_file_format format;
    } names[] = {{"jpeg", RT_FMT_JPEG}, {"png", RT_FMT_PNG},   {"tiff", RT_FMT_TIFF},
                 {"webp", RT_FMT_WEBP}, {"heif", RT_FMT_HEIF}, {"avif", RT_FMT_AVIF}};
    job->forced_format = -1;
    const char *name = job->opt.output_format;
    if (!name) return 0;
    if (job->layered)
        return rt_error(RT_ERR_ARG,
                        "the result is a ZIP of layers (a task has \"Layer\": 1), not a %s image",
                        name);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) {
            if (!rt_format_can_encode(names[i].format))
                return rt_error(RT_ERR_ARG, "this build's libvips cannot write %s images", name);
            job->forced_format = (int)names[i].format;
            return 0;
        }
    return rt_error(RT_ERR_ARG, "output format %s is not one of jpeg, png, tiff, webp, heif, avif",
                    name);
}

int rt_job_create(const rt_payload *payload, const rt_job_options *options, rt_job **out)
{
    *out = NULL;
    rt_job *job = calloc(1, sizeof *job);
    if (!job) return rt_error(RT_ERR_NOMEM, "out of memory");
    job->payload = payload;
    if (options) job->opt = *options;
    if (job->opt.max_megapixels <= 0) job->opt.max_megapixels = RT_DEFAULT_MAX_MEGAPIXELS;
    job->plugins = json_array();
    job->warnings = json_array();
    for (size_t i = 0; i < payload->nwarnings; i++)
        json_array_append_new(job->warnings, json_string(payload->warnings[i]));
    job->layered = payload_is_layered(payload);
    int err = rt_payload_check_runnable(payload);
    if (!err) err = forced_output_format(job);
    if (err) {
        rt_job_destroy(job);
        return err;
    }
    *out = job;
    return 0;
}

int rt_payload_check_runnable(const rt_payload *payload)
{
    for (size_t i = 0; i < payload->ntasks; i++)
        if (!rt_plugin_find(payload->tasks[i].spec->name))
            return rt_error(RT_ERR_NOT_IMPLEMENTED,
                            "tasks[%zu] (%s): this plugin is not implemented yet in this "
                            "version of retouch; remove the task or run it elsewhere",
                            i, payload->tasks[i].spec->name);
    return 0;
}

static rt_file_format output_format(const rt_payload *p, rt_file_format input)
{
    switch (p->output_format) {
    case RT_OUTPUT_JPEG:
        return RT_FMT_JPEG;
    case RT_OUTPUT_PNG:
        return RT_FMT_PNG;
    case RT_OUTPUT_TIFF:
        return RT_FMT_TIFF;
    default:
        break;
    }
    return input;
}

/* Rounds a layer to what its PNG will hold, so compositing the stored layer
 * reproduces the flattened result. */
static void quantize_layer(rt_image *layer, int x0, int y0, int bits)
{
    for (int c = 0; c < layer->channels; c++)
        rt_quantize_plane(rt_image_plane(layer, c), layer->width, layer->height, x0, y0, c, bits);
}

/* Full-size PNG of a layer placed at (x0, y0): transparent (0 for masks)
 * outside it; an opaque full-size layer is stored as RGB. */
static int encode_layer_png(const rt_job *job, const rt_image *layer, int x0, int y0,
                            rt_blend blend, void **png, size_t *len)
{
    const int W = job->running->width, H = job->running->height;
    static const float zero = 0.0f;
    rt_planes planes = {.width = 1,
                        .height = 1,
                        .n = blend == RT_BLEND_MASK ? 1 : 4,
                        .p = {&zero, &zero, &zero, &zero},
                        .x0 = W,
                        .y0 = H};
    if (layer) {
        planes = rt_planes_of(layer, NULL);
        planes.x0 = x0;
        planes.y0 = y0;
        int full = x0 == 0 && y0 == 0 && layer->width == W && layer->height == H;
        planes.add_alpha = layer->channels == 3 && !full;
    }
    planes.canvas_w = W;
    planes.canvas_h = H;
    rt_encode_params ep = {
        .format = RT_FMT_PNG, .bits = job->input->bits, .dither = 0, .meta = &job->input->meta};
    return rt_encode_buffer(&planes, &ep, png, len);
}

/* A plugin's own layer file (a patch layout): stored as it is, its own size. */
static int encode_stored_png(const rt_job *job, const rt_image *stored, void **png, size_t *len)
{
    rt_planes planes = rt_planes_of(stored, NULL);
    planes.canvas_w = stored->width;
    planes.canvas_h = stored->height;
    rt_encode_params ep = {
        .format = RT_FMT_PNG, .bits = job->input->bits, .dither = 0, .meta = &job->input->meta};
    return rt_encode_buffer(&planes, &ep, png, len);
}

static int encode_running_png(const rt_job *job, void **png, size_t *len)
{
    rt_planes planes = rt_planes_of(job->running, job->alpha);
    rt_encode_params ep = {
        .format = RT_FMT_PNG, .bits = job->input->bits, .dither = 1, .meta = &job->input->meta};
    return rt_encode_buffer(&planes, &ep, png, len);
}

static int add_layer_file(rt_job *job, const rt_task *t, void *png, size_t len)
{
    rt_layer_file *l = realloc(job->layers, (job->nlayers + 1) * sizeof *l);
    if (!l) {
        rt_encode_free(png);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    job->layers = l;
    rt_layer_file *f = &l[job->nlayers];
    memset(f, 0, sizeof *f);
    f->index = (int)job->nlayers;
    f->task_index = t->index;
    f->name = t->spec->name;
    f->blend = t->spec->blend;
    snprintf(f->file, sizeof f->file, "index=%d&blendmode=%s&name=%s.png", f->index,
             rt_blend_name(f->blend), f->name);
    f->png = png;
    f->png_len = len;
    job->nlayers++;
    return 0;
}

static int run_task(rt_job *job, const rt_task *t, int *changed)
{
    const rt_plugin *plugin = rt_plugin_find(t->spec->name);
    rt_plugin_ctx ctx = {.task = t,
                         .image = job->running,
                         .alpha = job->alpha,
                         .bits = job->input->bits,
                         .job = job};
    rt_plugin_output out = {0};
    rt_plugin_progress(&ctx, 0.0);
    int err = 0;
    if (plugin->needs & (RT_NEEDS_FACES | RT_NEEDS_PERSON_MASK)) {
        const struct rt_face_analysis *analysis;
        err = rt_plugin_face_analysis(&ctx, &analysis);
    }
    if (!err && !job->cancelled) err = plugin->run(&ctx, &out);
    if (!err && job->cancelled) err = rt_error(RT_ERR_CANCELLED, "the job was cancelled");
    if (err) {
        if (out.layer != job->running) rt_image_destroy(out.layer);
        rt_image_destroy(out.stored_layer);
        rt_image_destroy(out.replace);
        rt_free(out.replace_alpha);
        json_decref(out.metadata);
        rt_error_prefix("tasks[%d] (%s): ", t->index, t->spec->name);
        return err;
    }
    json_t *entry = json_object();
    json_object_set_new(entry, "pluginName", json_string(t->spec->name));
    json_object_set_new(entry, "taskIndex", json_integer(t->index));
    json_object_set_new(entry, "metadata", out.metadata ? out.metadata : json_object());
    json_array_append_new(job->plugins, entry);

    if (out.replace) {
        /* the analysis describes the old geometry */
        rt_face_analysis_destroy(job->face_analysis);
        job->face_analysis = NULL;
        rt_image_destroy(job->skin_mask);
        job->skin_mask = NULL;
        rt_image_destroy(job->running);
        job->running = out.replace;
        if (job->alpha) {
            rt_free(job->alpha);
            job->alpha = out.replace_alpha;
        } else {
            rt_free(out.replace_alpha);
        }
        *changed = 1;
    }
    int emits_layer = t->layer && t->spec->blend != RT_BLEND_NONE;
    if (out.layer) {
        if (!out.quantized) quantize_layer(out.layer, out.x, out.y, job->input->bits);
        if (emits_layer) {
            void *png;
            size_t len;
            if (out.stored_layer)
                err = encode_stored_png(job, out.stored_layer, &png, &len);
            else
                err = encode_layer_png(job, out.layer, out.x, out.y, t->spec->blend, &png, &len);
            if (!err) err = add_layer_file(job, t, png, len);
        }
        int opaque_full = out.layer->channels == 3 && out.x == 0 && out.y == 0 &&
                          out.layer->width == job->running->width &&
                          out.layer->height == job->running->height;
        if (out.layer == job->running) {
            /* written in place (rt_plugin_writable_image): already the new image */
            out.layer = NULL;
            *changed = 1;
        } else if (!err && t->spec->blend == RT_BLEND_NORMAL && opaque_full) {
            /* an opaque full-size normal layer is the new image: no copy */
            rt_image *old = job->running;
            job->running = out.layer;
            out.layer = old;
            *changed = 1;
        } else if (!err && t->spec->blend != RT_BLEND_MASK) {
            rt_blend_composite(job->running, out.layer, out.x, out.y, t->spec->blend);
            *changed = 1;
        } else if (!err && !t->layer && out.layer->channels == 1) {
            /* a Skin Mask with Layer 0: the skin region of the later skin plugins */
            rt_image_destroy(job->skin_mask);
            job->skin_mask = out.layer;
            job->skin_x = out.x;
            job->skin_y = out.y;
            out.layer = NULL;
        }
        rt_image_destroy(out.layer);
    } else if (emits_layer) {
        /* nothing to change: an empty layer keeps the indices predictable */
        void *png;
        size_t len;
        err = encode_layer_png(job, NULL, 0, 0, t->spec->blend, &png, &len);
        if (!err) err = add_layer_file(job, t, png, len);
    }
    rt_image_destroy(out.stored_layer);
    if (emits_layer) {
        json_object_set_new(entry, "layerIndex", json_integer((json_int_t)job->nlayers - 1));
    }
    return err;
}

int rt_job_run(rt_job *job, const char *input_path)
{
    if (job->ran) return rt_error(RT_ERR_ARG, "a job runs once");
    job->ran = 1;
    if (job->opt.threads > 0) omp_set_num_threads(job->opt.threads);
    free(job->input_name);
    job->input_name = strdup(job->opt.input_name ? job->opt.input_name : input_path);

    rt_job_report(job, RT_STEP_READING, "", 0.0);
    rt_decode_options dopt = {.max_megapixels = job->opt.max_megapixels,
                              .cmyk_profile = job->opt.cmyk_profile ? job->opt.cmyk_profile
                                                                    : job->payload->cmyk_profile};
    int err = rt_decode_with(input_path, &dopt, &job->input);
    if (err) return err;
    if (job->input->note[0]) rt_job_warn(job, "%s", job->input->note);
    job->running = job->input->image;
    job->input->image = NULL;
    job->alpha = job->input->alpha;
    job->input->alpha = NULL;
    job->out_format = job->forced_format >= 0 ? (rt_file_format)job->forced_format
                                              : output_format(job->payload, job->input->format);
    if (!rt_format_can_encode(job->out_format)) {
        rt_job_warn(job, "this server cannot write %s; the result is a JPEG",
                    rt_file_format_name(job->out_format));
        job->out_format = RT_FMT_JPEG;
    }
    /* before any work: a result the format cannot hold would be lost */
    if ((err =
             rt_file_format_check_size(job->out_format, job->running->width, job->running->height)))
        return err;
    rt_job_report(job, RT_STEP_READING, "", RT_PROGRESS_READ_END);
    if (job->cancelled) return rt_error(RT_ERR_CANCELLED, "the job was cancelled");

    int changed = 0;
    int seen_layer = 0;
    for (size_t i = 0; i < job->payload->ntasks; i++) {
        const rt_task *t = &job->payload->tasks[i];
        int emits_layer = t->layer && t->spec->blend != RT_BLEND_NONE;
        if (emits_layer && !seen_layer) {
            seen_layer = 1;
            if (changed && (err = encode_running_png(job, &job->base_png, &job->base_len)))
                return err;
        }
        job->current_task = (int)i;
        if ((err = run_task(job, t, &changed))) return err;
        if (job->cancelled) return rt_error(RT_ERR_CANCELLED, "the job was cancelled");
    }
    rt_job_report(job, RT_STEP_WRITING, "", RT_PROGRESS_TASKS_END);
    return 0;
}

char *rt_job_metadata_json(rt_job *job)
{
    json_t *root = json_object();
    json_object_set_new(root, "jsonVersion", json_string("1"));
    json_object_set(root, "plugins", job->plugins);
    json_t *layers = json_array();
    for (size_t i = 0; i < job->nlayers; i++) {
        const rt_layer_file *l = &job->layers[i];
        json_t *o = json_object();
        json_object_set_new(o, "index", json_integer(l->index));
        json_object_set_new(o, "name", json_string(l->name));
        json_object_set_new(o, "blendmode", json_string(rt_blend_name(l->blend)));
        json_object_set_new(o, "file", json_string(l->file));
        json_object_set_new(o, "taskIndex", json_integer(l->task_index));
        json_array_append_new(layers, o);
    }
    json_object_set_new(root, "layers", layers);
    json_object_set(root, "warnings", job->warnings);
    if (job->running) {
        json_t *img = json_object();
        json_object_set_new(img, "width", json_integer(job->running->width));
        json_object_set_new(img, "height", json_integer(job->running->height));
        json_object_set_new(img, "format", json_string(rt_file_format_name(job->out_format)));
        json_object_set_new(img, "bits", json_integer(job->input->bits));
        json_object_set_new(root, "output", img);
        if (job->layered) {
            char flat[32];
            snprintf(flat, sizeof flat, "flattened.%s", rt_file_format_extension(job->out_format));
            json_object_set_new(root, "flattened", json_string(flat));
            json_object_set_new(root, "base", json_string(job->base_png ? "base.png" : "input"));
        }
    }
    char *s = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    json_decref(root);
    return s;
}

int rt_job_write_metadata(rt_job *job, const char *path)
{
    char *s = rt_job_metadata_json(job);
    if (!s) return rt_error(RT_ERR_NOMEM, "out of memory");
    size_t n = strlen(s);
    char *line = realloc(s, n + 2);
    if (!line) {
        free(s);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    int err = rt_write_file_atomic(path, line, n + 1);
    free(line);
    return err;
}

static int write_output(rt_job *job, const char *output_path, const rt_planes *flat_planes,
                        const rt_encode_params *flat_ep);

static rt_encode_params flattened_params(const rt_job *job)
{
    rt_encode_params ep = {.format = job->out_format,
                           .bits = job->input->bits,
                           .dither = 1,
                           .meta = &job->input->meta};
    return ep;
}

/* The planes of the flattened output.  JPEG has no alpha; greyscale input
 * stays greyscale (Rec. 709 luma of the running image, in *grey_tmp). */
static int flattened_planes(const rt_job *job, rt_planes *p, float **grey_tmp)
{
    const float *alpha = job->out_format == RT_FMT_JPEG ? NULL : job->alpha;
    *p = rt_planes_of(job->running, alpha);
    *grey_tmp = NULL;
    if (!job->input->grey) return 0;
    size_t n = rt_image_pixels(job->running);
    float *g = rt_alloc_floats(n);
    if (!g) return rt_error(RT_ERR_NOMEM, "out of memory");
    const float *r = rt_image_plane(job->running, 0), *gr = rt_image_plane(job->running, 1),
                *b = rt_image_plane(job->running, 2);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        g[i] = 0.2126f * r[i] + 0.7152f * gr[i] + 0.0722f * b[i];
    p->n = alpha ? 2 : 1;
    p->p[0] = g;
    p->p[1] = alpha;
    *grey_tmp = g;
    return 0;
}

int rt_job_write(rt_job *job, const char *output_path)
{
    if (!job->running) return rt_error(RT_ERR_ARG, "the job has not run");
    rt_job_report(job, RT_STEP_WRITING, "", RT_PROGRESS_TASKS_END);
    rt_planes planes;
    float *grey = NULL;
    int err = flattened_planes(job, &planes, &grey);
    if (err) return err;
    rt_encode_params ep = flattened_params(job);
    err = write_output(job, output_path, &planes, &ep);
    rt_free(grey);
    return err;
}

static int write_output(rt_job *job, const char *output_path, const rt_planes *flat_planes,
                        const rt_encode_params *flat_ep)
{
    const rt_planes planes = *flat_planes;
    const rt_encode_params ep = *flat_ep;
    int err;
    if (!job->layered) return rt_encode_file(&planes, &ep, output_path); /* atomic */
    void *flat = NULL;
    size_t flat_len = 0;
    char *meta = NULL;
    rt_zip *z = NULL;
    if ((err = rt_encode_buffer(&planes, &ep, &flat, &flat_len))) return err;
    if (!(meta = rt_job_metadata_json(job))) {
        rt_encode_free(flat);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    if ((err = rt_zip_open(output_path, &z))) goto done;
    for (size_t i = 0; i < job->nlayers && !err; i++)
        err = rt_zip_add(z, job->layers[i].file, job->layers[i].png, job->layers[i].png_len, 0);
    if (!err) err = rt_zip_add(z, "result.json", meta, strlen(meta), 1);
    char flat_name[32];
    snprintf(flat_name, sizeof flat_name, "flattened.%s",
             rt_file_format_extension(job->out_format));
    if (!err) err = rt_zip_add(z, flat_name, flat, flat_len, 0);
    if (!err && job->base_png) err = rt_zip_add(z, "base.png", job->base_png, job->base_len, 0);
    if (err)
        rt_zip_abort(z);
    else
        err = rt_zip_commit(z);
done:
    rt_encode_free(flat);
    free(meta);
    return err;
}

const char *rt_job_output_extension(const rt_job *job)
{
    return job->layered ? "zip" : rt_file_format_extension(job->out_format);
}

const char *rt_job_output_mime(const rt_job *job)
{
    return job->layered ? "binary/octet-stream" : rt_file_format_mime(job->out_format);
}

void rt_job_destroy(rt_job *job)
{
    if (!job) return;
    rt_face_analysis_destroy(job->face_analysis);
    rt_image_destroy(job->skin_mask);
    rt_image_destroy(job->running);
    rt_free(job->alpha);
    rt_decoded_destroy(job->input);
    for (size_t i = 0; i < job->nlayers; i++)
        rt_encode_free(job->layers[i].png);
    free(job->layers);
    rt_encode_free(job->base_png);
    json_decref(job->plugins);
    json_decref(job->warnings);
    free(job->input_name);
    free(job);
}
