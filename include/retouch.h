/* retouch.h: the public API of libretouch, the retouching engine.
 *
 * Used by the `retouch` CLI and the `retouchd` server.  Every function that
 * can fail returns 0 or a negative error code (see src/core/error.h) and leaves
 * a message for the calling thread in rt_last_error().
 *
 * Typical use:
 *     rt_init(argv[0]);
 *     rt_payload *p;  rt_payload_parse(json, len, &p);
 *     rt_job *job;    rt_job_create(p, &options, &job);
 *     rt_job_run(job, "in.jpg");
 *     rt_job_write(job, "out.jpg");          // or .zip, see rt_job_output_extension()
 *     rt_job_write_metadata(job, "result.json");
 *     rt_job_destroy(job);  rt_payload_destroy(p);
 *
 * Ownership: every create or parse call has a matching destroy; strings returned
 * as `char *` are owned by the caller (free()); `const char *` ones are owned
 * by the object they came from.
 */
#ifndef RETOUCH_H
#define RETOUCH_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- library ---------------------------------------------------------- */

/* Initialises libvips and the engine's tables.  Once per process, before any
 * other call; thread-safe afterwards. */
int rt_init(const char *argv0);
void rt_shutdown(void);

/* The calling thread's last error message / code, and its HTTP status. */
const char *rt_last_error(void);
int rt_last_error_code(void);
int rt_http_status(int err);

/* Default megapixel limit, checked from the image header before decoding. */
#define RT_DEFAULT_MAX_MEGAPIXELS 250.0

/* ---- plugins ---------------------------------------------------------- */

/* The 17 plugins in the table order of PLUGINS.md. */
size_t rt_plugin_count(void);
const char *rt_plugin_name(size_t i);
int rt_plugin_implemented(size_t i);

/* ---- payload ---------------------------------------------------------- */

typedef struct rt_payload rt_payload;

/* Parses and validates a task payload (API.md "The task payload").  On
 * failure returns RT_ERR_PAYLOAD (HTTP 462) with every problem named by task
 * index, field and rule in rt_last_error(). */
int rt_payload_parse(const char *json, size_t len, rt_payload **out);
void rt_payload_destroy(rt_payload *p);

/* The normalised task list as JSON (canonical names, defaults filled). */
char *rt_payload_normalized_json(const rt_payload *p);

/* Non-zero when the result is a ZIP of layers. */
int rt_payload_is_layered(const rt_payload *p);
size_t rt_payload_task_count(const rt_payload *p);

/* ---- images ----------------------------------------------------------- */

typedef struct rt_image_info {
    int width, height; /* after EXIF orientation */
    int bands;         /* as stored: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA */
    int bits;          /* 8 or 16 */
    char format[8];    /* "jpeg", "png", "tiff", "webp", "heif" */
    char mime[16];     /* "image/jpeg", ... */
} rt_image_info;

/* Reads only the header: format, size, and the megapixel limit (413 when
 * over; 0 means the default).  A file that is not a supported image is
 * RT_ERR_IMAGE (400). */
int rt_probe_image(const char *path, double max_megapixels, rt_image_info *info);

/* ---- jobs ------------------------------------------------------------- */

typedef enum rt_step {
    RT_STEP_QUEUED,
    RT_STEP_READING,
    RT_STEP_ANALYSING,
    RT_STEP_PROCESSING,
    RT_STEP_WRITING,
    RT_STEP_DONE,
} rt_step;

/* "queued", "reading", "analysing", "processing", "writing", "done" */
const char *rt_step_name(rt_step step);

/* Called as the job advances: plugin is the task running now ("" when none),
 * progress in [0,1] never decreases.  Return non-zero to cancel the job
 * (rt_job_run then fails with RT_ERR_CANCELLED). */
typedef int (*rt_progress_fn)(void *user, rt_step step, const char *plugin, double progress);

typedef struct rt_job_options {
    double max_megapixels;   /* 0: RT_DEFAULT_MAX_MEGAPIXELS */
    int threads;             /* OpenMP threads for this job; 0: all cores */
    const char *models_dir;  /* NULL: $RT_MODELS_DIR or <source>/models */
    const char *input_name;  /* original file name, for messages; NULL: the path */
    rt_progress_fn progress; /* optional */
    void *progress_user;
    /* "jpeg", "png", "tiff", "webp", "heif" or "avif": the flattened result's format
     * (the CLI's -o extension); NULL: the payload's outputFormat, else the
     * input's.  rt_job_create refuses it for a layered payload and when this
     * libvips cannot write it. */
    const char *output_format;
    /* How a CMYK input without an ICC profile is read: "press", "naive" or
     * an ICC file's path (image_io.h); NULL: the payload's cmykProfile. */
    const char *cmyk_profile;
} rt_job_options;

typedef struct rt_job rt_job;

/* The job keeps a reference to payload: it must outlive the job. */
int rt_job_create(const rt_payload *payload, const rt_job_options *options, rt_job **out);
/* Decodes input_path and runs every task. */
int rt_job_run(rt_job *job, const char *input_path);
/* Writes the result: the flattened image or the ZIP (see below). */
int rt_job_write(rt_job *job, const char *output_path);
/* Writes result.json (also for flattened jobs). */
int rt_job_write_metadata(rt_job *job, const char *path);
/* result.json as a string (caller frees). */
char *rt_job_metadata_json(rt_job *job);
/* "jpg", "png", "tif", "webp", "heic" or "zip" and the matching MIME type
 * ("binary/octet-stream" for the ZIP); valid after rt_job_run(). */
const char *rt_job_output_extension(const rt_job *job);
const char *rt_job_output_mime(const rt_job *job);
void rt_job_destroy(rt_job *job);

#ifdef __cplusplus
}
#endif
#endif
