/* Points and 2-D affine maps for the face code.
 *
 * Coordinates are continuous image coordinates: pixel (i, j) covers
 * [i, i+1) x [j, j+1), so its centre is (i + 0.5, j + 0.5).  The same holds
 * for model inputs (a 192x192 crop spans [0, 192)).
 */
#ifndef RT_FACE_GEOMETRY_H
#define RT_FACE_GEOMETRY_H

#include <math.h>

typedef struct rt_point2 {
    float x, y;
} rt_point2;

/* p' = (m[0] x + m[1] y + m[2], m[3] x + m[4] y + m[5]) */
typedef struct rt_affine {
    double m[6];
} rt_affine;

static inline rt_point2 rt_affine_apply(const rt_affine *a, double x, double y)
{
    rt_point2 p = {(float)(a->m[0] * x + a->m[1] * y + a->m[2]),
                   (float)(a->m[3] * x + a->m[4] * y + a->m[5])};
    return p;
}

/* The map that takes the square crop [0, side)^2 onto the square of the
 * image centred at (cx, cy) with edge length size, rotated by angle radians
 * (counter-clockwise as displayed, y down): the crop's x axis runs along the
 * image direction (cos angle, -sin angle), its "up" along (-sin angle,
 * -cos angle).  A face whose eye line has that roll comes out upright. */
static inline rt_affine rt_affine_square_crop(double cx, double cy, double size, double angle,
                                              int side)
{
    double s = size / side, c = cos(angle) * s, n = sin(angle) * s;
    /* crop offset (u - side/2, v - side/2) rotated: x = c*u + n*v, y = -n*u + c*v */
    rt_affine a = {{c, n, 0, -n, c, 0}};
    double h = side / 2.0;
    a.m[2] = cx - (c * h + n * h);
    a.m[5] = cy - (-n * h + c * h);
    return a;
}

/* The map that takes a w x h crop onto the rectangle of the image centred
 * at (cx, cy) with edges rw x rh, rotated by angle like
 * rt_affine_square_crop (the crop is stretched when the aspects differ). */
static inline rt_affine rt_affine_rect_crop(double cx, double cy, double rw, double rh,
                                            double angle, int w, int h)
{
    double sx = rw / w, sy = rh / h, c = cos(angle), n = sin(angle);
    rt_affine a = {{c * sx, n * sy, 0, -n * sx, c * sy, 0}};
    a.m[2] = cx - (a.m[0] * w / 2.0 + a.m[1] * h / 2.0);
    a.m[5] = cy - (a.m[3] * w / 2.0 + a.m[4] * h / 2.0);
    return a;
}

/* Source pixels per destination pixel (geometric mean of the two axes). */
static inline double rt_affine_scale(const rt_affine *a)
{
    return sqrt(fabs(a->m[0] * a->m[4] - a->m[1] * a->m[3]));
}

static inline float rt_point_dist(rt_point2 a, rt_point2 b)
{
    return hypotf(a.x - b.x, a.y - b.y);
}

#endif
