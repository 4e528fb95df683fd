/* Smooth low-resolution gain maps over a face ROI, applied in one fused
 * full-resolution pass (ALGORITHMS.md §1.6 "analyse small, apply large").
 *
 * The tone plugins (Skin Tone, Dodge Burn, Portrait Volumes) compute their
 * effect as gains in linear light on a copy of the ROI downscaled by an
 * integer factor; the maps carry no fine detail, so pore texture survives.
 * At full resolution each pixel of the ROI is read once: the maps are
 * upsampled bilinearly (map pixel i covers full-resolution pixels
 * [i * factor, (i + 1) * factor)), the gains applied, and the result stored
 * as a soft-light layer (the blend inverted per pixel, core/blend.h) whose
 * alpha is the caller's region weight.
 *
 * Gains, per pixel, on linear RGB l (luminance Y):
 *   chroma[c] (optional): t_c = l_c * chroma_c, then t scaled back to
 *                         luminance Y: a colour shift that keeps luminance
 *                         (and so its texture) exactly;
 *   lum (optional):       t_c *= lum: a luminance gain that keeps colour
 *                         ratios.
 *
 * Ownership: rt_gain_map_create() returns a map owned by the caller,
 * released with rt_gain_map_destroy().  Deterministic for any thread count
 * (every pixel is computed alone; OpenMP over rows).
 */
#ifndef RT_FILTERS_GAIN_MAP_H
#define RT_FILTERS_GAIN_MAP_H

#include "core/image.h"

#include <stddef.h>

typedef struct rt_gain_map {
    int x0, y0, w, h; /* the full-resolution ROI in the running image */
    int factor;       /* full-resolution pixels per map pixel */
    int mw, mh;       /* map size: ceil(w / factor) x ceil(h / factor) */
    float *lum;       /* luminance gain per map pixel, or NULL (1) */
    float *chroma[3]; /* per-channel gains renormalised to keep luminance, or NULLs */
} rt_gain_map;

/* A map for the ROI (x0, y0, w, h), factor >= 1; with_lum / with_chroma
 * allocate those planes, filled with 1. */
int rt_gain_map_create(int x0, int y0, int w, int h, int factor, int with_lum, int with_chroma,
                       rt_gain_map **out);
void rt_gain_map_destroy(rt_gain_map *m);

/* The factor that brings a face of px_per_mm to about target_px_per_mm on
 * the map (at least 1). */
int rt_gain_map_factor(float px_per_mm, float target_px_per_mm);

/* The analysis copy of the ROI: image planes 0-2 (sRGB-encoded) averaged
 * over each map pixel's block and converted to linear light, into three
 * caller planes of mw x mh. */
int rt_gain_map_downscale_linear(const rt_gain_map *m, const rt_image *image, float *lin[3]);

/* One full-resolution plane covering the ROI (row stride `stride` floats)
 * averaged into the map grid (mw x mh). */
void rt_gain_map_downscale_plane(const rt_gain_map *m, const float *full, size_t stride,
                                 float *dst);

/* A soft-light layer of w x h: colour 0.5 (neutral), alpha 0. */
int rt_soft_light_layer_create(int w, int h, rt_image **out);

/* The fused pass: for every ROI pixel whose weight (full resolution, row
 * stride wstride) is above the alpha already in `layer` (placed at lx, ly
 * in the image; several faces: the strongest weight wins), writes the
 * soft-light colour that turns the image pixel into its gained result and
 * alpha = weight.  The ROI must lie inside the layer. */
int rt_gain_map_apply_soft_light(const rt_gain_map *m, const rt_image *image, const float *weight,
                                 size_t wstride, rt_image *layer, int lx, int ly);

#endif
