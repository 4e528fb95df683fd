/* Planar float32 images, the engine's working format.
 *
 * Values are in [0,1] in the input's own RGB encoding (usually sRGB-encoded);
 * see core/colour.h for linear-light and Lab helpers.  Planes are stored one
 * after another in a single 64-byte aligned allocation, so plane c of pixel
 * (x,y) is data[c * plane_stride + y * width + x].
 *
 * Ownership: rt_image_create()/rt_image_copy() return a new image owned by the
 * caller, released with rt_image_destroy().
 */
#ifndef RT_CORE_IMAGE_H
#define RT_CORE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define RT_MAX_CHANNELS 4

typedef struct rt_image {
    int width;
    int height;
    int channels;        /* 1 (mask/grey) .. 4 */
    size_t plane_stride; /* floats between planes (>= width * height) */
    float *data;
} rt_image;

/* New image with every value 0.  Fails with RT_ERR_NOMEM or RT_ERR_ARG. */
int rt_image_create(int width, int height, int channels, rt_image **out);
/* Same, without clearing (the caller writes every value). */
int rt_image_create_uninit(int width, int height, int channels, rt_image **out);
int rt_image_copy(const rt_image *src, rt_image **out);
void rt_image_destroy(rt_image *im);

static inline float *rt_image_plane(const rt_image *im, int c)
{
    return im->data + (size_t)c * im->plane_stride;
}

static inline size_t rt_image_pixels(const rt_image *im)
{
    return (size_t)im->width * (size_t)im->height;
}

/* Aligned allocation of n floats (64-byte aligned); free with rt_free(),
 * never free(): large blocks are recycled (see image.c). */
float *rt_alloc_floats(size_t n);
void *rt_alloc_aligned(size_t bytes);
void rt_free(void *p);
/* Returns the recycled blocks waiting for reuse to the system. */
void rt_memory_trim(void);

#endif
