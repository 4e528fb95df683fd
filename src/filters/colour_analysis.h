/* The analysis copy that automatic colour correction measures (white
 * balance, exposure, tone: white_balance.h, exposure.h): the image
 * downscaled to at most `side` pixels and decoded to linear light, with the
 * pixels fit to judge by (neither clipped nor near black).
 *
 * Ownership: rt_colour_analysis_create() fills a caller-owned struct whose
 * buffers rt_colour_analysis_destroy() frees.
 */
#ifndef RT_FILTERS_COLOUR_ANALYSIS_H
#define RT_FILTERS_COLOUR_ANALYSIS_H

#include "core/image.h"

#include <stddef.h>

typedef struct rt_colour_analysis {
    int w, h;
    size_t n;
    float *r, *g, *b; /* linear planes */
    unsigned char *valid;
    /* computed once for the white-balance rounds (NULL until then) */
    float *edge2[3]; /* squared gradient of each blurred linear plane */
    float *logct[3]; /* local contrast of each blurred log plane */
} rt_colour_analysis;

int rt_colour_analysis_create(const rt_image *im, int side, rt_colour_analysis *a);
void rt_colour_analysis_destroy(rt_colour_analysis *a);
/* Fills edge2 and logct (0, or RT_ERR_NOMEM). */
int rt_colour_analysis_edges(rt_colour_analysis *a);

/* Skin-like or strongly saturated under the illuminant e: not evidence
 * about the illuminant. */
int rt_colour_excluded(float r, float g, float b, const double e[3]);
/* Scales e to unit length. */
void rt_normalise_rgb(double e[3]);
/* Percentile q of n values in [0, 2) from a histogram (no sort). */
float rt_histogram_percentile(const float *v, size_t n, double q);

/* Where the estimators send their warnings (a complete sentence). */
typedef void (*rt_warn_fn)(void *user, const char *message);

#endif
