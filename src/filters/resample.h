/* Resampling: area-average downscaling for analysis copies ("analyse
 * small"), bicubic sampling and one-pass rotate+crop for geometry. */
#ifndef RT_FILTERS_RESAMPLE_H
#define RT_FILTERS_RESAMPLE_H

#include "core/image.h"

/* Area-average (box) downscale so that the long side is at most max_side.
 * A smaller image is copied.  *out is owned by the caller. */
int rt_downscale(const rt_image *src, int max_side, rt_image **out);
/* Same for one plane into a caller-provided buffer of dw x dh floats; 0,
 * or RT_ERR_NOMEM (then dst holds no image). */
int rt_downscale_plane(const float *src, int w, int h, float *dst, int dw, int dh);

/* A rotation about (cx, cy) followed by an axis-aligned crop of out_w x
 * out_h centred there: output pixel (u, v) shows the source point
 *     (cx, cy) + R(-angle) * (u + 0.5 - out_w/2, v + 0.5 - out_h/2)
 * (source coordinates with pixel centres at +0.5).  angle is in degrees,
 * counter-clockwise positive as displayed (y down). */
typedef struct rt_rotate_crop {
    double angle_deg;
    double cx, cy;
    int out_w, out_h;
} rt_rotate_crop;

/* Applies rc to every plane of src (and to alpha when not NULL).  Pure
 * crops at integer offsets copy pixels instead of resampling. */
int rt_rotate_crop_image(const rt_image *src, const float *alpha, const rt_rotate_crop *rc,
                         rt_image **out, float **out_alpha);

/* Catmull-Rom weights of the four taps around a sample at fractional
 * offset t in [0,1) (taps at -1, 0, 1, 2). */
static inline void rt_cubic_weights(float t, float wt[4])
{
    float t2 = t * t, t3 = t2 * t;
    wt[0] = 0.5f * (-t3 + 2.0f * t2 - t);
    wt[1] = 0.5f * (3.0f * t3 - 5.0f * t2 + 2.0f);
    wt[2] = 0.5f * (-3.0f * t3 + 4.0f * t2 + t);
    wt[3] = 0.5f * (t3 - t2);
}

#endif
