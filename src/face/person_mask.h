/* The person mask: where the image shows a person (hair, skin, clothes),
 * 0..1, at full resolution.
 *
 * MediaPipe Selfie Segmentation (general 256x256 model) sees the whole image
 * stretched to its square input.  Its soft 256x256 output is then snapped to
 * the image's own edges by a fast guided filter (He & Sun 2015): the
 * filter's coefficients are computed on a pyramid level of at most 1024
 * pixels (radius 1 % of the long side, grey guide), upsampled bilinearly and
 * applied to the full-resolution grey image.
 *
 * Storage: one byte per pixel (24 MB at 24 MP) plus the float mask at the
 * guide level for analyses that work small.
 *
 * Ownership: rt_person_mask_create() returns a mask owned by the caller
 * (rt_person_mask_destroy()); the analysis owns the job's mask.
 */
#ifndef RT_FACE_PERSON_MASK_H
#define RT_FACE_PERSON_MASK_H

#include "face/pyramid.h"
#include "nn/nn.h"

#include <stddef.h>
#include <stdint.h>

typedef struct rt_person_mask {
    int width, height; /* the running image's size */
    uint8_t *full;     /* width * height, row-major: round(255 * probability) */
    int low_w, low_h;  /* the guide level's size */
    float *low;        /* low_w * low_h refined probability at the guide level */
    float coverage;    /* fraction of the image that is person (mean of the mask) */
} rt_person_mask;

int rt_person_mask_create(nn_model *selfie, const rt_face_pyramid *pyr, rt_person_mask **out);
void rt_person_mask_destroy(rt_person_mask *m);

/* Probability at pixel (x, y) of the running image (inside it). */
static inline float rt_person_mask_at(const rt_person_mask *m, int x, int y)
{
    return m->full[(size_t)y * m->width + x] * (1.0f / 255.0f);
}

/* Copies the rectangle (x0, y0, w, h) into dst as floats in [0, 1] (row
 * stride `stride` floats); parts outside the image read 0. */
void rt_person_mask_roi(const rt_person_mask *m, int x0, int y0, int w, int h, float *dst,
                        size_t stride);

/* Guided filter of a grey guide I and input p (both w x h) with radius r and
 * regulariser eps: writes the box-averaged coefficients mean_a and mean_b,
 * so that q = mean_a * I + mean_b (at this size, or upsampled to a larger
 * guide: the fast guided filter).  Exposed for the tests. */
int rt_guided_filter_coefficients(const float *I, const float *p, int w, int h, int r, float eps,
                                  float *mean_a, float *mean_b);

#endif
