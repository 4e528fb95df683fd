/* Automatic exposure (first version) and Full mode's contrast and
 * saturation, measured on the analysis copy (colour_analysis.h).
 *
 * Exposure is highlight-anchored metering that never looks at face
 * brightness, so different skin tones are never equalised:
 *   - under-exposure when the bright end (99.5th percentile of the maximum
 *     channel) sits well below white: lift it to a target;
 *   - over-exposure when clipping reaches into the subject (clipped pixels
 *     outside large border-touching areas such as a white backdrop): lower
 *     by how far the clipped part of the histogram extends;
 *   - over-exposure when much of the person is clipped and the face is
 *     bright: the same extent, limited to 0.85 EV.
 * Steps are limited to +-1.5 EV.
 */
#ifndef RT_FILTERS_EXPOSURE_H
#define RT_FILTERS_EXPOSURE_H

#include "filters/colour_analysis.h"
#include "filters/white_balance.h"

/* The exposure step in EV for the analysis under white-balance gains wb;
 * fc (face skin) and person (1 where the person mask covers an analysis
 * pixel, a->n values) may be NULL.  0, or RT_ERR_NOMEM. */
int rt_estimate_exposure(const rt_colour_analysis *a, const double wb[3], const rt_skin_cues *fc,
                         const unsigned char *person, double *ev, rt_warn_fn warn, void *user);

/* Full mode: adds a mild S-curve for washed-out tones to *contrast, and
 * vibrance for dull colours or less saturation for loud ones.  0, or
 * RT_ERR_NOMEM. */
int rt_estimate_tone(const rt_colour_analysis *a, const double gain[3], double *contrast,
                     double *saturation, double *vibrance);

#endif
