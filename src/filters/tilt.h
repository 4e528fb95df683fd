/* Camera roll ("tilt") from straight scene lines (ALGORITHMS.md §18.1).
 *
 * Near-horizontal and near-vertical segments vote, weighted by length and
 * contrast, for the rotation that would make them level; the estimate is the
 * mode of a kernel density over the votes, refined by the weighted mean near
 * it.  Verticals away from the image centre count less (keystone makes them
 * converge).  Confidence combines how many votes agree and how much line
 * length supports the mode.
 */
#ifndef RT_FILTERS_TILT_H
#define RT_FILTERS_TILT_H

#include "core/image.h"

typedef struct rt_tilt_estimate {
    double angle_deg;  /* rotation that straightens, counter-clockwise positive */
    double confidence; /* 0..1 */
    int segments;      /* segments that voted */
} rt_tilt_estimate;

/* Optional region to ignore (e.g. the person): a mask of any size covering
 * the whole image; segments touching values above threshold do not vote. */
typedef struct rt_tilt_hints {
    const float *ignore; /* ignore_w x ignore_h, row-major; NULL for none */
    int ignore_w, ignore_h;
    float threshold;
} rt_tilt_hints;

/* Maximum |tilt| searched, degrees. */
#define RT_TILT_SEARCH_DEG 20.0

int rt_estimate_tilt(const rt_image *img, const rt_tilt_hints *hints, rt_tilt_estimate *est);

#endif
