/* Out of memory is reported, never answered with a different image: the
 * engine's own allocations of 16 KB or more (malloc, calloc, posix_memalign,
 * wrapped at link time for this program) fail one at a time, the k-th for
 * k = 0, 1, ...,
 * while a plugin runs; each run must end in RT_ERR_NOMEM or in exactly the
 * image of a run without failures.  Color Correction used to swallow such
 * failures (a histogram, the face cues, the border clipping) and return a
 * different correction. */
#include "core/error.h"
#include "payload/payload.h"
#include "pipeline/job.h"
#include "plugins/plugin.h"
#include "retouch.h"
#include "test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- failure injection ---- */

static int armed;
static long calls, fail_at = -1;
static int fired;

/* Buffers of at least this size: images, planes, histograms, analysis
 * buffers (the thousands of small per-row ones would make the test slow). */
#define LARGE 16384

static int inject(size_t bytes)
{
    if (bytes < LARGE || !__atomic_load_n(&armed, __ATOMIC_RELAXED)) return 0;
    if (__atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED) != fail_at) return 0;
    __atomic_store_n(&fired, 1, __ATOMIC_RELAXED);
    return 1;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
int __real_posix_memalign(void **p, size_t align, size_t n);

void *__wrap_malloc(size_t n)
{
    return inject(n) ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return inject(n * size) ? NULL : __real_calloc(n, size);
}

int __wrap_posix_memalign(void **p, size_t align, size_t n)
{
    return inject(n) ? 12 /* ENOMEM */ : __real_posix_memalign(p, align, n);
}

/* ---- the test ---- */

static int identical(const rt_image *a, const rt_image *b)
{
    if (a->width != b->width || a->height != b->height || a->channels != b->channels) return 0;
    for (int c = 0; c < a->channels; c++)
        if (memcmp(rt_image_plane(a, c), rt_image_plane(b, c),
                   rt_image_pixels(a) * sizeof(float)) != 0)
            return 0;
    return 1;
}

/* Runs the job's first task's plugin on a fresh copy of original with the
 * k-th allocation failing; returns its error and whether the failure
 * happened. */
static int run_failing(rt_job *job, const rt_image *original, long k, int *happened)
{
    rt_image_destroy(job->running);
    assert_int_equal(rt_image_copy(original, &job->running), 0);
    const rt_plugin *plugin = rt_plugin_find(job->payload->tasks[0].spec->name);
    rt_plugin_ctx ctx = {
        .task = &job->payload->tasks[0], .image = job->running, .bits = 8, .job = job};
    rt_plugin_output out = {0};
    calls = 0;
    fail_at = k;
    fired = 0;
    __atomic_store_n(&armed, 1, __ATOMIC_SEQ_CST);
    int err = plugin->run(&ctx, &out);
    __atomic_store_n(&armed, 0, __ATOMIC_SEQ_CST);
    *happened = fired;
    json_decref(out.metadata);
    if (out.layer && out.layer != job->running) rt_image_destroy(out.layer);
    if (err) assert_null(out.replace);
    return err;
}

static void check_plugin(const char *payload_json, const char *image)
{
    rt_payload *p = NULL;
    assert_int_equal(rt_payload_parse(payload_json, strlen(payload_json), &p), 0);
    rt_job *job = NULL;
    assert_int_equal(rt_job_create(p, NULL, &job), 0);
    /* a whole run first: decodes, analyses the faces (cached in the job)
     * and gives the reference */
    assert_int_equal(rt_job_run(job, test_data(image)), 0);
    rt_image *reference;
    assert_int_equal(rt_image_copy(job->running, &reference), 0);
    rt_decoded *input = test_decode(test_data(image));
    int happened = 1, failures = 0;
    long k = 0;
    for (; happened && k < 400; k++) {
        int err = run_failing(job, input->image, k, &happened);
        if (err) {
            if (err != RT_ERR_NOMEM)
                fail_msg("%s: allocation %ld failed: error %d \"%s\"", image, k, err,
                         rt_error_message());
            assert_true(happened);
            failures++;
        } else if (!identical(job->running, reference)) {
            fail_msg("%s: allocation %ld failed, yet the plugin succeeded with a different "
                     "image",
                     image, k);
        }
    }
    /* the loop ended because a run had no k-th allocation left to fail */
    assert_false(happened);
    assert_true(failures > 3);
    print_message("%s: %ld allocations, each failure reported\n", image, k - 1);
    rt_image_destroy(reference);
    rt_decoded_destroy(input);
    rt_job_destroy(job);
    rt_payload_destroy(p);
}

static void test_color_correction_reports_oom(void **state)
{
    (void)state;
    check_plugin("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Color Correction\","
                 "\"User Params\":{\"AI\":{\"Color Correction Mode\":\"Full\"},\"Basic\":{"
                 "\"Enable Basic\":true}}}]}",
                 "london_012_800.jpg");
}

int main(void)
{
    rt_init("test_alloc_failures");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_color_correction_reports_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
