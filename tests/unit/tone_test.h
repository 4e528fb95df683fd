/* What the tone plugin tests (Skin Tone, Dodge Burn, Portrait Volumes)
 * share: running a plugin through the public API, the photo's face
 * analysis and skin weight, and the measures of ALGORITHMS.md §19 (band
 * energies, chroma and luminance bands in skin, SSIM). */
#ifndef RT_TONE_TEST_H
#define RT_TONE_TEST_H

#include "core/image.h"
#include "face/analysis.h"
#include "io/image_io.h"

/* A photo with its analysis and every face's skin weight (W x H). */
typedef struct tone_photo {
    const char *path;
    rt_decoded *in;
    rt_face_analysis *a;
    float *skin;
    float px_per_mm; /* of the largest face */
} tone_photo;

tone_photo *tone_photo_load(const char *path);
void tone_photo_free(tone_photo *p);

/* Runs one task of `plugin` (Alpha1 = blend, Alpha2 = alpha2 when >= 0) on
 * path with `threads` OpenMP threads (0: default); returns the 8-bit PNG
 * output decoded. */
rt_decoded *tone_run(const char *path, const char *plugin, double blend, double alpha2,
                     int threads);

/* Largest |out - in| (in 8-bit steps) over pixels where region == 0. */
double tone_max_diff_outside(const rt_image *in, const rt_image *out, const float *region);
/* Largest |out - in| (in 8-bit steps) anywhere. */
double tone_max_diff(const rt_image *in, const rt_image *out);

/* Std ratio out / in of the à-trous level `level` of luma (sRGB-encoded
 * Rec. 709 weights) over the skin core (weight >= 0.99). */
double tone_luma_level_ratio(const rt_image *in, const rt_image *out, const float *skin, int level);

/* Std ratio out / in, over the skin core, of the band of log linear
 * luminance (or of CIELAB a* and b* together when chroma is set) between
 * the skin-masked blurs at fine_px and coarse_px. */
double tone_band_ratio(const rt_image *in, const rt_image *out, const float *skin, float fine_px,
                       float coarse_px, int chroma);

/* The large-scale shading: log linear luminance blurred (skin-masked) at
 * sigma_px, compared over the skin core: returns the correlation of in and
 * out, amplitude gets the std ratio out / in. */
double tone_form_corr(const rt_image *in, const rt_image *out, const float *skin, float sigma_px,
                      double *amplitude);

/* Mean CIELAB of the skin core: L, a, b. */
void tone_mean_lab(const rt_image *im, const float *skin, double lab[3]);

/* Mean SSIM of luma (Gaussian window sigma 1.5) over the rectangle. */
double tone_ssim(const rt_image *a, const rt_image *b, int x0, int y0, int w, int h);

/* A copy of im scaled by 1/2 (area average). */
rt_image *tone_half(const rt_image *im);

#endif
