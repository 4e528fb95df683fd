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
 * face outline minus eyes, brows, lips and nostrils), its forehead lifted to
 * the hairline, times the visibility of each pixel (face/visibility.h:
 * glasses frames, beard, hair and objects of other colours taken out);
 * `image` is the running image the analysis was computed on.
 */
#ifndef RT_FACE_SKIN_H
#define RT_FACE_SKIN_H

#include "core/image.h"
#include "face/analysis.h"
#include "face/regions.h"

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

/* THE region function for the eye and mouth family (Eye Vessels, Eye
 * Brilliance, White Teeth, lip plugins): region `region` of face
 * `face_index` (face/regions.h, feather_mm as there) multiplied by what the
 * analysis found visible, for the rectangle (x0, y0, w, h), row stride
 * `stride` floats; every value of the rectangle is written.
 *   RT_REGION_SKIN         the same as rt_face_skin_weight() with this feather
 *   RT_REGION_LIPS,
 *   RT_REGION_INNER_MOUTH  times the lips' visibility: 0 where something
 *                          skin-coloured (fingers, knuckles) or of another
 *                          colour than lips lies on them (first version: only
 *                          when the face's lips differ from its skin at all)
 *   other regions          the landmark region (eyes and brows are not yet
 *                          checked for cover)
 * Fails only when out of memory or on bad arguments. */
int rt_face_visible_region(const rt_face_analysis *a, const rt_image *image, int face_index,
                           rt_face_region region, float feather_mm, int x0, int y0, int w, int h,
                           float *dst, size_t stride);

#endif
