/* Blurs of single float planes. */
#ifndef RT_FILTERS_BLUR_H
#define RT_FILTERS_BLUR_H

/* Separable Gaussian (kernel truncated at 3 sigma, borders clamped), in
 * place.  Cost grows with sigma: meant for analysis-size planes. */
int rt_gaussian_blur_plane(float *plane, int w, int h, float sigma);

#endif
