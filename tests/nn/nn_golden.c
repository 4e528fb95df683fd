/* Golden test of the nn runtime against TensorFlow.js.
 *
 *   nn_golden --write-inputs DIR
 *       writes DIR/cases.json and one DIR/<model>.<case>.input.bin (float32,
 *       NHWC) per case, for golden.js to run through TensorFlow.js.
 *   nn_golden --check DIR FIXTURES
 *       runs every case in the C runtime and compares each output with
 *       DIR/<model>.<case>.ref.bin (written by golden.js in this test run) or,
 *       when DIR/refs.ok is absent (no Node), FIXTURES/<model>.<case>.ref
 *       (committed, outputs subsampled).  Pass: |c - ref| <= 1e-4 * max(1, |ref|)
 *       for every value.
 *   nn_golden --write-fixtures DIR FIXTURES
 *       turns DIR's references into the committed fixtures.
 */
#include "golden_cases.h"
#include "core/error.h"
#include "nn/nn.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <vips/vips.h>

#define TOLERANCE 1e-4
#define FIXTURE_MAX_VALUES 4096 /* per output; larger outputs are subsampled */

static const char *case_names[] = {"random", "photo"};

/* The input of case k of model gm: n = size*size*3 floats. */
static int make_input(const golden_model *gm, int k, float *out)
{
    const size_t n = (size_t)gm->size * gm->size * 3;
    if (k == 0) {
        golden_random_input(out, n, gm->seed, gm->lo, gm->hi);
        return 0;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/%s", RT_SOURCE_DIR, gm->image);
    VipsImage *im = vips_image_new_from_file(path, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (!im) {
        fprintf(stderr, "nn_golden: cannot read %s: %s\n", path, vips_error_buffer());
        return -1;
    }
    size_t bytes = 0;
    unsigned char *px = NULL;
    if (im->Xsize == gm->size && im->Ysize == gm->size && im->Bands == 3 &&
        im->BandFmt == VIPS_FORMAT_UCHAR)
        px = vips_image_write_to_memory(im, &bytes);
    g_object_unref(im);
    if (!px || bytes != n) {
        fprintf(stderr, "nn_golden: %s is not a %dx%d RGB 8-bit image\n", path, gm->size, gm->size);
        g_free(px);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = gm->lo + (gm->hi - gm->lo) * ((float)px[i] / 255.0f);
    g_free(px);
    return 0;
}

static int load_model(const golden_model *gm, nn_model **model)
{
    char path[1024];
    if (nn_model_path(gm->file, path, sizeof path) || nn_model_load(path, model)) {
        fprintf(stderr, "nn_golden: %s\n", rt_error_message());
        return -1;
    }
    return 0;
}

static int write_floats(const char *path, const float *v, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(v, sizeof *v, n, f) != n) {
        fprintf(stderr, "nn_golden: cannot write %s\n", path);
        if (f) fclose(f);
        return -1;
    }
    return fclose(f) ? -1 : 0;
}

static float *read_floats(const char *path, size_t n, long skip)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    float *v = malloc(n * sizeof *v + 1);
    int ok =
        v && fseek(f, skip, SEEK_SET) == 0 && fread(v, sizeof *v, n, f) == n && fgetc(f) == EOF;
    fclose(f);
    if (!ok) {
        free(v);
        return NULL;
    }
    return v;
}

static int write_inputs(const char *dir)
{
    json_t *cases = json_array();
    for (size_t m = 0; m < GOLDEN_MODEL_COUNT; m++) {
        const golden_model *gm = &golden_models[m];
        nn_model *model;
        if (load_model(gm, &model)) return 1;
        const nn_tensor_info *in = nn_model_input(model, 0);
        for (int k = 0; k < 2; k++) {
            float *x = malloc(in->size * sizeof *x);
            char path[1024];
            snprintf(path, sizeof path, "%s/%s.%s.input.bin", dir, gm->name, case_names[k]);
            if (!x || in->size != (size_t)gm->size * gm->size * 3 || make_input(gm, k, x) ||
                write_floats(path, x, in->size)) {
                free(x);
                nn_model_destroy(model);
                return 1;
            }
            free(x);
            json_t *outs = json_array();
            for (int o = 0; o < nn_model_output_count(model); o++) {
                const nn_tensor_info *info = nn_model_output(model, o);
                json_t *shape = json_array();
                for (int d = 0; d < info->rank; d++)
                    json_array_append_new(shape, json_integer(info->shape[d]));
                json_array_append_new(outs,
                                      json_pack("{s:s, s:o}", "name", info->name, "shape", shape));
            }
            json_array_append_new(cases, json_pack("{s:s, s:s, s:s, s:s, s:[i,i,i,i], s:o}",
                                                   "model", gm->name, "case", case_names[k], "file",
                                                   gm->file, "input", in->name, "shape", 1,
                                                   gm->size, gm->size, 3, "outputs", outs));
        }
        nn_model_destroy(model);
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/cases.json", dir);
    json_t *root = json_pack("{s:s, s:o}", "models_dir", nn_models_dir(), "cases", cases);
    int rc = json_dump_file(root, path, JSON_INDENT(1));
    json_decref(root);
    return rc ? 1 : 0;
}

/* Reference values of one case: every output in full (refs from this run) or
 * subsampled with a stride (fixtures). */
typedef struct reference {
    float *values[8];
    size_t stride[8];
} reference;

static void free_reference(reference *ref)
{
    for (int i = 0; i < 8; i++)
        free(ref->values[i]);
}

static size_t fixture_stride(size_t size)
{
    return (size + FIXTURE_MAX_VALUES - 1) / FIXTURE_MAX_VALUES;
}

static int read_run_refs(const char *dir, const golden_model *gm, int k, const nn_model *model,
                         reference *ref)
{
    size_t total = 0;
    for (int o = 0; o < nn_model_output_count(model); o++)
        total += nn_model_output(model, o)->size;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.%s.ref.bin", dir, gm->name, case_names[k]);
    float *all = read_floats(path, total, 0);
    if (!all) {
        fprintf(stderr, "nn_golden: %s missing or not %zu floats\n", path, total);
        return -1;
    }
    size_t off = 0;
    for (int o = 0; o < nn_model_output_count(model); o++) {
        size_t n = nn_model_output(model, o)->size;
        ref->values[o] = malloc(n * sizeof(float));
        if (!ref->values[o]) {
            free(all);
            return -1;
        }
        memcpy(ref->values[o], all + off, n * sizeof(float));
        ref->stride[o] = 1;
        off += n;
    }
    free(all);
    return 0;
}

static int read_fixture(const char *fixtures, const golden_model *gm, int k, const nn_model *model,
                        reference *ref)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.%s.ref", fixtures, gm->name, case_names[k]);
    size_t total = 0;
    for (int o = 0; o < nn_model_output_count(model); o++) {
        size_t n = nn_model_output(model, o)->size;
        total += (n + fixture_stride(n) - 1) / fixture_stride(n);
    }
    float *all = read_floats(path, total, 0);
    if (!all) {
        fprintf(stderr, "nn_golden: fixture %s missing or not %zu floats\n", path, total);
        return -1;
    }
    size_t off = 0;
    for (int o = 0; o < nn_model_output_count(model); o++) {
        size_t n = nn_model_output(model, o)->size, s = fixture_stride(n);
        size_t count = (n + s - 1) / s;
        ref->values[o] = malloc(count * sizeof(float));
        if (!ref->values[o]) {
            free(all);
            return -1;
        }
        memcpy(ref->values[o], all + off, count * sizeof(float));
        ref->stride[o] = s;
        off += count;
    }
    free(all);
    return 0;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int check(const char *dir, const char *fixtures)
{
    char marker[1024];
    snprintf(marker, sizeof marker, "%s/refs.ok", dir);
    const int from_run = file_exists(marker);
    printf("references: %s\n", from_run ? "TensorFlow.js in this run" : "committed fixtures");
    int failures = 0, checked = 0;
    for (size_t m = 0; m < GOLDEN_MODEL_COUNT; m++) {
        const golden_model *gm = &golden_models[m];
        nn_model *model;
        if (load_model(gm, &model)) return 1;
        const nn_tensor_info *in = nn_model_input(model, 0);
        float *x = malloc(in->size * sizeof *x);
        float *outs[8] = {0};
        int n_out = nn_model_output_count(model);
        for (int o = 0; o < n_out; o++)
            outs[o] = malloc(nn_model_output(model, o)->size * sizeof(float));
        for (int k = 0; k < 2; k++) {
            reference ref = {0};
            int rc = make_input(gm, k, x);
            if (!rc)
                rc = from_run ? read_run_refs(dir, gm, k, model, &ref)
                              : read_fixture(fixtures, gm, k, model, &ref);
            if (!rc) rc = nn_model_run(model, (const float *const *)&x, outs);
            if (rc) {
                failures++;
                free_reference(&ref);
                continue;
            }
            for (int o = 0; o < n_out; o++) {
                const nn_tensor_info *info = nn_model_output(model, o);
                double max_abs = 0, max_rel = 0;
                size_t bad = 0, worst = 0;
                const size_t s = ref.stride[o];
                for (size_t i = 0, j = 0; i < info->size; i += s, j++) {
                    double r = ref.values[o][j], c = outs[o][i];
                    double err = fabs(c - r);
                    double rel = err / fmax(1.0, fabs(r));
                    if (!(rel <= TOLERANCE)) bad++;
                    if (err > max_abs || isnan(err)) {
                        max_abs = err;
                        worst = i;
                    }
                    if (rel > max_rel) max_rel = rel;
                }
                checked++;
                printf("%-9s %-6s %-22s %7zu values  max abs err %.3g  max rel err %.3g%s\n",
                       gm->name, case_names[k], info->name, (info->size + s - 1) / s, max_abs,
                       max_rel, bad ? "  FAIL" : "");
                if (bad) {
                    printf("    %zu values off; worst at %zu: C %.9g, TF.js %.9g\n", bad, worst,
                           outs[o][worst], ref.values[o][worst / s]);
                    failures++;
                }
            }
            free_reference(&ref);
        }
        for (int o = 0; o < n_out; o++)
            free(outs[o]);
        free(x);
        nn_model_destroy(model);
    }
    printf("%d outputs checked, %d failed\n", checked, failures);
    return failures ? 1 : 0;
}

static int write_fixtures(const char *dir, const char *fixtures)
{
    for (size_t m = 0; m < GOLDEN_MODEL_COUNT; m++) {
        const golden_model *gm = &golden_models[m];
        nn_model *model;
        if (load_model(gm, &model)) return 1;
        for (int k = 0; k < 2; k++) {
            reference ref = {0};
            if (read_run_refs(dir, gm, k, model, &ref)) {
                nn_model_destroy(model);
                return 1;
            }
            char path[1024];
            snprintf(path, sizeof path, "%s/%s.%s.ref", fixtures, gm->name, case_names[k]);
            FILE *f = fopen(path, "wb");
            for (int o = 0; f && o < nn_model_output_count(model); o++) {
                size_t n = nn_model_output(model, o)->size, s = fixture_stride(n);
                for (size_t i = 0; i < n; i += s)
                    fwrite(&ref.values[o][i], sizeof(float), 1, f);
            }
            free_reference(&ref);
            if (!f || fclose(f)) {
                fprintf(stderr, "nn_golden: cannot write %s\n", path);
                nn_model_destroy(model);
                return 1;
            }
        }
        nn_model_destroy(model);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (VIPS_INIT(argv[0])) return 1;
    int rc = 2;
    if (argc == 3 && strcmp(argv[1], "--write-inputs") == 0)
        rc = write_inputs(argv[2]);
    else if (argc == 4 && strcmp(argv[1], "--check") == 0)
        rc = check(argv[2], argv[3]);
    else if (argc == 4 && strcmp(argv[1], "--write-fixtures") == 0)
        rc = write_fixtures(argv[2], argv[3]);
    else
        fprintf(stderr, "usage: nn_golden --write-inputs DIR | --check DIR FIXTURES | "
                        "--write-fixtures DIR FIXTURES\n");
    vips_shutdown();
    return rc;
}
