/* Automatic white balance, first version (ALGORITHMS.md section 17): three
 * statistical estimates on pixels that are neither clipped, nor very dark,
 * nor skin-like, nor strongly saturated: shades of grey (p = 6), first-order
 * grey edge (p = 6) and grey pixels (equal local log-contrast in the three
 * channels); fused by the median in log-chromaticity, trusted by how much
 * of the frame was evidence and how well they agree, shrunk by the doubt
 * in it (soft thresholding, so that it converges on its own output), and
 * checked against the face skin's hue.
 */
#ifndef RT_FILTERS_WHITE_BALANCE_H
#define RT_FILTERS_WHITE_BALANCE_H

#include "filters/colour_analysis.h"

/* What the faces tell the white balance: the colour of their skin as shot,
 * so that skin anywhere (face, neck, arms, hands) is recognised under any
 * cast and left out of the neutral evidence, and so that the correction can
 * be checked against it. */
typedef struct rt_skin_cues {
    int have_skin;
    double skin_lr, skin_lb; /* median log(R/G), log(B/G) of face skin, linear */
    double skin_bright;      /* 90th percentile of the face skin's luminance, linear */
} rt_skin_cues;

/* The illuminant's colour (unit vector; grey when unsure) in illum; fc may
 * be NULL.  0, or RT_ERR_NOMEM (never a silently different answer). */
int rt_estimate_illuminant(rt_colour_analysis *a, const rt_skin_cues *fc, double illum[3],
                           rt_warn_fn warn, void *user);
/* Von Kries gains that neutralise illum while keeping grey's luminance. */
void rt_white_balance_gains(const double illum[3], double g[3]);

#endif
