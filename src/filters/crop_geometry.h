/* Geometry of a rotated crop (ALGORITHMS.md §18.2): the largest rectangle
 * of a given aspect inside the image rotated by an angle, scaled by an area
 * fraction, and placed within its feasible range of centres. */
#ifndef RT_FILTERS_CROP_GEOMETRY_H
#define RT_FILTERS_CROP_GEOMETRY_H

#include "filters/resample.h"

typedef struct rt_crop_request {
    int width, height; /* source image */
    double angle_deg;  /* counter-clockwise positive */
    double aspect;     /* crop width / height */
    double area;       /* (0,1]: fraction of the largest crop's area */
    double center_x;   /* [0,1] within the feasible range, 0.5 centred */
    double center_y;
} rt_crop_request;

/* Fills rc (centre in source pixel coordinates, output size in pixels) so
 * that all four corners of the crop lie inside the source. */
void rt_crop_geometry(const rt_crop_request *req, rt_rotate_crop *rc);

#endif
