/* Small helpers for the feature regions (eyes, mouth): planes of a small
 * rectangle of the running image, blurs and morphology whose cost does not
 * grow with the radius, and the luma/chroma split the feature plugins work
 * in.  Everything runs on tiny ROIs (an eye of a 24 MP portrait is about
 * 600x350 px) in one thread: results do not depend on the thread count.
 *
 * Colour: Y = 0.299 R + 0.587 G + 0.114 B, Cb = B - Y, Cr = R - Y on the
 * image's own (sRGB-encoded) values; an exact linear split, so editing Y,
 * Cb, Cr and converting back changes nothing that was not edited.
 * Redness is Cr > 0, yellowness Cb < 0.
 */
#ifndef RT_FACE_ROI_FILTERS_H
#define RT_FACE_ROI_FILTERS_H

#include "core/image.h"

#include <stddef.h>

/* Y, Cb, Cr planes (each w*h, row stride w) of the rectangle (x0, y0, w,
 * h), which must lie inside the image. */
void rt_roi_ycc(const rt_image *img, int x0, int y0, int w, int h, float *y, float *cb, float *cr);

static inline void rt_ycc_to_rgb(float y, float cb, float cr, float *r, float *g, float *b)
{
    *r = y + cr;
    *b = y + cb;
    *g = (y - 0.299f * *r - 0.114f * *b) * (1.0f / 0.587f);
}

/* Approximate Gaussian of standard deviation sigma (px): three box passes
 * per axis, running sums, borders clamped.  In place; needs w*h floats of
 * scratch (tmp). */
void rt_roi_box_blur3(float *plane, int w, int h, float sigma, float *tmp);

/* Separable square max (dilate) or min (erode) filter of radius r, in
 * place; tmp holds w*h floats. */
void rt_roi_max_filter(float *plane, int w, int h, int r, float *tmp);
void rt_roi_min_filter(float *plane, int w, int h, int r, float *tmp);

/* rt_mask_polygon (face/regions.h) evaluated on a grid k times coarser
 * and interpolated bilinearly: for gates whose exact edge does not matter
 * (where a feature may be, skin rings for statistics), at a fraction of
 * the cost of a wide band at full resolution.  op is RT_MASK_SET or
 * RT_MASK_MUL_INV (int for the header's independence). */
int rt_roi_polygon_coarse(const void *pts, int n, float grow_px, int op, int x0, int y0, int w,
                          int h, int k, float *dst);

/* Box mean of k x k cells: dst is ceil(w/k) x ceil(h/k) (partial cells
 * at the right and bottom average what they hold). */
void rt_roi_box_down(const float *src, int w, int h, int k, float *dst);
/* Bilinear interpolation of such a coarse plane back to w x h (cell
 * centres at (i + 0.5) k). */
void rt_roi_bilinear_up(const float *coarse, int k, int w, int h, float *dst);

/* Keeps the values of `v` that are connected (8-neighbours, through
 * values > thr) to a seed (seed > 0.5 where v > thr); sets the rest to 0.
 * One flood fill, O(w h).  RT_ERR_NOMEM on allocation failure. */
int rt_roi_keep_connected(float *v, const float *seed, int w, int h, float thr);

/* The value below which `fraction` of the weighted samples lie (weights
 * > 0.5 count), values in [lo, hi] binned in 1024 bins; returns `fallback`
 * when no sample counts. */
float rt_roi_percentile(const float *v, const float *weight, size_t n, float fraction, float lo,
                        float hi, float fallback);

/* A rectangle of the running image. */
typedef struct rt_roi {
    int x0, y0, w, h;
} rt_roi;

/* The smallest rectangle holding the n rectangles (n >= 1). */
rt_roi rt_roi_union(const rt_roi *r, int n);

/* Writes an edited rectangle (r, g, b planes and alpha a, each roi.w x
 * roi.h) into an RGBA layer placed at (lx, ly) in the running image, at
 * the pixels where its alpha exceeds what the layer holds (overlapping
 * feature rectangles, e.g. two close faces, keep the stronger edit). */
void rt_roi_layer_put(rt_image *layer, int lx, int ly, rt_roi roi, const float *r, const float *g,
                      const float *b, const float *a);

static inline float rt_smoothstep(float e0, float e1, float x)
{
    float t = (x - e0) / (e1 - e0);
    t = t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
    return t * t * (3.0f - 2.0f * t);
}

#endif
