/* Straight line segments in a luminance plane: a region-growing detector in
 * the spirit of LSD (Grompone von Gioi et al.): pixels whose level-line
 * orientations agree within a tolerance are grown into regions, and regions
 * that are long, thin and dense become segments whose direction is the
 * principal axis of their gradient-weighted pixels (sub-degree precision on
 * long edges).  First version: no a-contrario validation; thresholds are on
 * length, elongation and density.
 */
#ifndef RT_FILTERS_LINE_SEGMENTS_H
#define RT_FILTERS_LINE_SEGMENTS_H

typedef struct rt_segment {
    float x1, y1, x2, y2; /* end points, pixel coordinates */
    float cx, cy;         /* centre */
    float length;
    float width;
    float angle_deg; /* direction as displayed, counter-clockwise positive, in (-90, 90] */
    float contrast;  /* mean gradient magnitude along the segment */
} rt_segment;

typedef struct rt_lsd_params {
    float min_length;    /* pixels */
    float tolerance_deg; /* level-line angle tolerance (22.5 in LSD) */
    float min_gradient;  /* gradient magnitude threshold (plane values in [0,1]) */
    float min_density;   /* region pixels / rectangle area */
} rt_lsd_params;

/* Detects segments in a w x h plane.  *out is malloc'd (free()). */
int rt_detect_line_segments(const float *lum, int w, int h, const rt_lsd_params *params,
                            rt_segment **out, int *count);

#endif
