/* Face reshaping as a displacement field built from the landmarks
 * (ALGORITHMS.md §15): slimmer cheeks and jaw, a squarer or softer jaw and
 * chin, a tighter line under the chin.  The field is analytic in the face's
 * own upright frame (across the eye line, down the glabella-chin axis), so it
 * is smooth, follows the face's roll and yaw, and is zero far from the face;
 * Face Lifting samples it on a grid (filters/warp.h), anchors background
 * lines, smooths it and keeps it fold-free before resampling.
 *
 * The displacement is a forward one: the image content at p moves to
 * p + d(p).  It is strongest on the face outline and fades into the face
 * over the reach `depth` and into the background over a short band, so the
 * backdrop next to the jaw follows the jaw (as a retoucher's liquify does).
 *
 * First version: the shapes of the edits (where along the jaw each acts,
 * how strongly) are hand-set from the mesh, not learned.
 */
#ifndef RT_FACE_LIFT_H
#define RT_FACE_LIFT_H

#include "face/face.h"

typedef struct rt_face_lift_params {
    float slim;        /* Face Lifting, 0..1: cheeks and jaw toward the midline, a slight lift */
    float masculinity; /* -1 (softer, narrower jaw and chin) .. 0 neutral .. +1 (squarer) */
    float double_chin; /* 0..1: the band under the jaw pulled up toward it */
    float depth;       /* 0..1: how far into the face the reshaping reaches */
} rt_face_lift_params;

/* One face's field, prepared from its mesh (a plain value, no allocation). */
typedef struct rt_face_lift {
    rt_point2 origin;    /* glabella-side point of the midline (mesh 168) */
    rt_point2 across;    /* unit vector along the eye line, towards the image right */
    rt_point2 down;      /* unit vector from the eyes towards the chin */
    float width;         /* face width across the cheeks, pixels */
    float eye_v, chin_v; /* positions of the eye line and the chin along `down` */
    int nside[2];        /* outline samples per side (image left, image right) */
    float side_v[2][24], side_r[2][24]; /* (v, half width) along each side, v increasing */
    float inner, outer; /* fall-off lengths into the face and into the background, pixels */
    /* eyes and mouth keep their shapes: around each, the field blends into
     * the plain shift of its centre */
    rt_point2 keep_centre[3];
    float keep_radius[3];
    rt_face_lift_params p;
} rt_face_lift;

/* Prepares the field of one face.  Returns 0 when the face is too small
 * or its outline unusable (the field is then zero). */
int rt_face_lift_prepare(const rt_face *face, const rt_face_lift_params *p, rt_face_lift *out);

/* Adds this face's displacement at image point (x, y) to *dx, *dy. */
void rt_face_lift_add(const rt_face_lift *L, float x, float y, float *dx, float *dy);

/* The rectangle outside which the field is (numerically) zero. */
void rt_face_lift_bounds(const rt_face_lift *L, float *x0, float *y0, float *x1, float *y1);

#endif
