/* Camera roll ("tilt") from straight scene lines (ALGORITHMS.md §18.1),
 * and the fusion of that and other cues (face/body_tilt.h) into one answer.
 *
 * Near-horizontal and near-vertical segments vote, weighted by length and
 * contrast, for the rotation that would make them level; the estimate is the
 * mode of a kernel density over the votes, refined by the weighted mean near
 * it.  Verticals of a pitched camera converge to a vanishing point: the
 * density is searched jointly over the roll and the convergence (the inverse
 * distance of the vertical vanishing point), so converging plumb lines vote
 * for the roll they imply instead of scattering.  Confidence combines how
 * many votes agree and how much line length supports the mode.
 */
#ifndef RT_FILTERS_TILT_H
#define RT_FILTERS_TILT_H

#include "core/image.h"

typedef struct rt_tilt_estimate {
    double angle_deg;   /* rotation that straightens, counter-clockwise positive */
    double confidence;  /* 0..1 */
    int segments;       /* segments that voted */
    double convergence; /* fitted vertical convergence: half-diagonals / vanishing-point distance, +
                           above */
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

/* The cues of AI straightening, each a levelling rotation with a confidence
 * in 0..1 (0: not seen). */
enum { RT_CUE_LINES, RT_CUE_TORSO, RT_CUE_SHOULDERS, RT_CUE_FACES, RT_CUE_COUNT };

typedef struct rt_tilt_cue {
    double angle_deg, confidence;
} rt_tilt_cue;

/* "lines", "torso", "shoulders", "faces" */
extern const char *const rt_tilt_cue_names[RT_CUE_COUNT];

typedef struct rt_tilt_fusion {
    double angle_deg;  /* confidence-weighted mean of the agreeing cues */
    double confidence; /* 0..1: the agreeing cues, lowered by confident dissent */
    unsigned agreeing; /* bit (1 << cue) for each cue that agrees */
} rt_tilt_fusion;

/* Two cues agree when their angles are within this many degrees. */
#define RT_TILT_AGREE_DEG 1.5

/* Picks the angle most confident cues agree on. */
void rt_fuse_tilt_cues(const rt_tilt_cue cues[RT_CUE_COUNT], rt_tilt_fusion *out);

#endif
