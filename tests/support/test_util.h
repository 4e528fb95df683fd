/* Helpers for the test programs. */
#ifndef RT_TEST_UTIL_H
#define RT_TEST_UTIL_H

#include "core/image.h"
#include "io/image_io.h"

#include <stddef.h>

/* Path of a file in tests/data (static buffer per call site: copy it). */
const char *test_data(const char *name);
/* Path in ../shared/testimages, or NULL when that corpus is absent. */
const char *test_shared(const char *name);

/* A fresh temporary directory (removed by test_tmpdir_cleanup). */
const char *test_tmpdir(void);
void test_tmpdir_cleanup(void);
/* tmpdir/name */
const char *test_tmp(const char *name);

/* Decodes a file; fails the test on error. */
rt_decoded *test_decode(const char *path);
/* Writes an image's RGB planes as 8-bit PNG or JPEG (by extension). */
void test_write_image(const rt_image *im, const char *path);

/* Runs a payload on input through the public API; returns 0 or the error. */
int test_run_job(const char *payload, const char *input, const char *output, const char *metadata);

/* Runs a payload on input with 1 and then 2 threads, each to a PNG, and
 * fails the test unless both files hold the same bytes (PLUGINS.md:
 * deterministic output for any thread count). */
void test_assert_same_bytes_any_threads(const char *payload, const char *input);

/* Reads a whole file (malloc'd, NUL-terminated) or NULL. */
char *test_read_file(const char *path, size_t *len);
void test_write_file(const char *path, const void *data, size_t len);

/* Fraction of samples (all channels) where |a - b| * 255 > tol_steps. */
double test_fraction_differing(const rt_image *a, const rt_image *b, double tol_steps);
double test_max_abs_diff(const rt_image *a, const rt_image *b);

/* Mean SSIM (8x8 windows, stride 4) of the luma of two same-size images,
 * both first box-downscaled so the long side is at most max_side: "the
 * same look" across resolutions (PLUGINS.md, >= 0.98). */
double test_ssim(const rt_image *a, const rt_image *b, int max_side);

/* Mean linear RGB over an image. */
void test_mean_linear(const rt_image *im, double out[3]);

#endif
