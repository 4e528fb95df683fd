/* What of a face is visible: per-face evidence of what covers the skin
 * (glasses frames, beard and moustache, hair, objects), computed once during
 * the analysis on a low-resolution grid over the face and evaluated cheaply
 * per rectangle by face/skin.h.
 *
 * Method (first version, README.md "Visibility"): a skin colour model
 * learned from the face's own cheeks, nose and forehead (robust mean and
 * spread of luma and two normalised chroma axes, outliers such as frames
 * and shadows trimmed), a texture measure (local luma gradient against the
 * skin's own), the person mask, and the glasses probability.  Each grid
 * cell gets the probability that it shows this face's bare skin, snapped to
 * the image's edges by a guided filter on the grid's luma.  The face's
 * forehead is lifted towards the hairline (the mesh stops short of it) and
 * the colour model decides where the hair begins.
 *
 * Not yet detected: skin-coloured occluders (hands and fingers in front of
 * the face pass the colour model as skin); objects are only removed where
 * their colour is not skin's.
 *
 * Ownership: rt_face_visibility_compute() fills a struct owned by the
 * caller, released with rt_face_visibility_clear(); the analysis owns one
 * per face (rt_face_analysis.vis).
 */
#ifndef RT_FACE_VISIBILITY_H
#define RT_FACE_VISIBILITY_H

#include "face/face.h"
#include "face/person_mask.h"
#include "face/pyramid.h"

/* What was found covering a face (bit flags, rt_face_visibility.occluders). */
enum {
    RT_OCCLUDER_GLASSES = 1 << 0,
    RT_OCCLUDER_BEARD = 1 << 1,
    RT_OCCLUDER_MOUSTACHE = 1 << 2,
    RT_OCCLUDER_HAIR = 1 << 3,
    RT_OCCLUDER_HAND = 1 << 4,
    RT_OCCLUDER_OBJECT = 1 << 5,
    RT_OCCLUDER_COUNT = 6
};

/* Name of occluder bit i (0 <= i < RT_OCCLUDER_COUNT): "glasses", "beard", ... */
const char *rt_occluder_name(int i);

typedef struct rt_face_visibility {
    /* The grid: cell (i, j) covers the running-image square from
     * (x0 + i step, y0 + j step), step pixels wide. */
    double x0, y0, step;
    int gw, gh;
    float *skin;        /* gw x gh: bare, visible skin of this face, 0..1 */
    float *lips;        /* gw x gh: lips and mouth not covered (by skin-coloured or other things) */
    float *frame;       /* gw x gh: glasses frame evidence, 0..1 (0 when no glasses) */
    rt_face lifted;     /* the face with its forehead points lifted to the hairline */
    unsigned occluders; /* RT_OCCLUDER_* bits */
    /* Skin model, for logs and tests: mean and spread of luma and the two
     * normalised chroma axes; share of the landmark skin found covered. */
    float skin_mean[3], skin_sd[3];
    float covered;
} rt_face_visibility;

int rt_face_visibility_compute(const rt_face_pyramid *pyr, const rt_person_mask *person,
                               const rt_face *face, rt_face_visibility *vis);
void rt_face_visibility_clear(rt_face_visibility *vis);

/* Bilinear value of a grid (vis->skin, ->lips or ->frame) at the running
 * image's pixel centre (x + 0.5, y + 0.5); 0 outside the grid. */
float rt_face_visibility_at(const rt_face_visibility *vis, const float *grid, int x, int y);

/* Multiplies the rectangle (x0, y0, w, h) of dst (stride floats) by a grid,
 * upsampled bilinearly. */
void rt_face_visibility_apply(const rt_face_visibility *vis, const float *grid, int x0, int y0,
                              int w, int h, float *dst, size_t stride);

/* 5x5 median of src into dst (w x h floats, the window clipped at the
 * borders): what a texture measure keeps of a textured area and drops of a
 * line (an edge, a frame) through it. */
void rt_median5(const float *src, float *dst, int w, int h);

#endif
