/* Where the skin plugins may work on a face: its visible skin, 0..1.
 *
 * Every plugin of the skin family (Heal, Dodge Burn, Skin Tone, Mattifier,
 * Portrait Volumes, Skin Mask) paints through this weight, so what covers
 * the face (glasses frames, beard, hair, hands, objects) is decided once,
 * here, and not by each plugin.  The plugins reach it through
 * rt_plugin_skin_weight() (plugins/plugin.h), which also honours a Skin Mask
 * task run with Layer 0 earlier in the job.
 *
 * The weight is the face's skin region (face/regions.h RT_REGION_SKIN: the
 * face outline minus eyes, brows, lips and nostrils) times the visibility of
 * each pixel; `image` is the running image the analysis was computed on.
 */
#ifndef RT_FACE_SKIN_H
#define RT_FACE_SKIN_H

#include "core/image.h"
#include "face/analysis.h"

#include <stddef.h>

/* Edge feather of the skin weight, millimetres on the face. */
#define RT_SKIN_FEATHER_MM 1.0f

/* Writes the visible skin of face `face_index` (or of every face, the
 * per-pixel maximum, when face_index < 0) into dst for the rectangle
 * (x0, y0, w, h) of the running image, row stride `stride` floats; every
 * value of the rectangle is written.  Fails only when out of memory or on
 * bad arguments. */
int rt_face_skin_weight(const rt_face_analysis *a, const rt_image *image, int face_index, int x0,
                        int y0, int w, int h, float *dst, size_t stride);

/* The rectangle outside which face `face_index`'s skin weight is 0, clipped
 * to the image; returns 0 when it is empty. */
int rt_face_skin_bounds(const rt_face_analysis *a, int face_index, int *x0, int *y0, int *w,
                        int *h);

#endif
