/* The public API (retouch.h) over the engine's modules. */
#include "retouch.h"

#include "core/colour.h"
#include "core/error.h"
#include "core/quantize.h"
#include "io/image_io.h"
#include "io/vips_error.h"
#include "payload/payload.h"
#include "pipeline/job.h"
#include "plugins/plugin.h"

#include <pthread.h>
#include <stdio.h>
#include <vips/vips.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_status;
/* rt_error() messages are per thread: every caller of a failed rt_init
 * gets this copy, not only the thread that ran the initialisation */
static char init_message[600];

static void init_engine(void)
{
    if (VIPS_INIT("retouch")) {
        char why[512];
        rt_vips_error_take(why, sizeof why);
        init_status = rt_error(RT_ERR_INTERNAL, "cannot initialise libvips: %s", why);
        snprintf(init_message, sizeof init_message, "%s", rt_error_message());
        return;
    }
    /* Jobs are independent: caching operations across them only costs memory. */
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    /* Uploads are untrusted: keep libvips's fuzz-unsafe loaders off. */
    vips_block_untrusted_set(TRUE);
    rt_colour_init();
    rt_dither_init();
}

int rt_init(const char *argv0)
{
    (void)argv0;
    pthread_once(&init_once, init_engine);
    if (init_status) return rt_error(init_status, "%s", init_message);
    return 0;
}

void rt_shutdown(void)
{
    vips_shutdown();
}

const char *rt_last_error(void)
{
    return rt_error_message();
}

int rt_last_error_code(void)
{
    return rt_error_code();
}

int rt_http_status(int err)
{
    return rt_error_http_status(err);
}

size_t rt_plugin_count(void)
{
    return rt_plugin_spec_count();
}

const char *rt_plugin_name(size_t i)
{
    const rt_plugin_spec *s = rt_plugin_spec_at(i);
    return s ? s->name : NULL;
}

int rt_plugin_implemented(size_t i)
{
    const rt_plugin_spec *s = rt_plugin_spec_at(i);
    return s && rt_plugin_find(s->name) != NULL;
}

int rt_payload_parse(const char *json, size_t len, rt_payload **out)
{
    int err = payload_parse(json, len, out);
    if (!err && (err = rt_payload_check_runnable(*out))) {
        payload_destroy(*out);
        *out = NULL;
    }
    return err;
}

void rt_payload_destroy(rt_payload *p)
{
    payload_destroy(p);
}

char *rt_payload_normalized_json(const rt_payload *p)
{
    return payload_to_json(p);
}

int rt_payload_is_layered(const rt_payload *p)
{
    return payload_is_layered(p);
}

size_t rt_payload_task_count(const rt_payload *p)
{
    return p->ntasks;
}

int rt_probe_image(const char *path, double max_megapixels, rt_image_info *info)
{
    return rt_io_probe(path, max_megapixels, info, NULL);
}

const char *rt_step_name(rt_step step)
{
    static const char *const names[] = {"queued",     "reading", "analysing",
                                        "processing", "writing", "done"};
    return step <= RT_STEP_DONE ? names[step] : "unknown";
}
