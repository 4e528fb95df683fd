#include "core/image.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Planes of a large image live on 2 MB pages where the kernel allows it:
 * a 24 MP float image is 70 000 faults on 4 KB pages, 140 on huge ones. */
#define HUGE_PAGE (2u << 20)

void *rt_alloc_aligned(size_t bytes)
{
    void *p = NULL;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded == 0)
        rounded = 64;
    size_t align = rounded >= 4 * (size_t)HUGE_PAGE ? HUGE_PAGE : 64;
    if (posix_memalign(&p, align, rounded) != 0)
        return NULL;
    if (align == HUGE_PAGE)
        madvise(p, rounded & ~(size_t)(HUGE_PAGE - 1), MADV_HUGEPAGE);
    return p;
}

float *rt_alloc_floats(size_t n)
{
    if (n > SIZE_MAX / sizeof(float))
        return NULL;
    return rt_alloc_aligned(n * sizeof(float));
}

void rt_free(void *p)
{
    free(p);
}

int rt_image_create_uninit(int width, int height, int channels, rt_image **out)
{
    *out = NULL;
    if (width <= 0 || height <= 0 || channels <= 0 || channels > RT_MAX_CHANNELS)
        return rt_error(RT_ERR_ARG, "image size %dx%dx%d is invalid", width, height, channels);
    size_t pixels = (size_t)width * (size_t)height;
    /* keep each plane 64-byte aligned */
    size_t stride = (pixels + 15) & ~(size_t)15;
    if (stride > SIZE_MAX / sizeof(float) / (size_t)channels)
        return rt_error(RT_ERR_TOO_BIG, "image %dx%d is too large to hold in memory", width, height);
    rt_image *im = calloc(1, sizeof *im);
    if (!im)
        return rt_error(RT_ERR_NOMEM, "out of memory for an image header");
    im->data = rt_alloc_floats(stride * (size_t)channels);
    if (!im->data) {
        free(im);
        return rt_error(RT_ERR_NOMEM, "out of memory for a %dx%d image (%zu MB)", width, height,
                        stride * (size_t)channels * sizeof(float) >> 20);
    }
    im->width = width;
    im->height = height;
    im->channels = channels;
    im->plane_stride = stride;
    *out = im;
    return 0;
}

int rt_image_create(int width, int height, int channels, rt_image **out)
{
    int err = rt_image_create_uninit(width, height, channels, out);
    if (err)
        return err;
    memset((*out)->data, 0, (*out)->plane_stride * (size_t)channels * sizeof(float));
    return 0;
}

int rt_image_copy(const rt_image *src, rt_image **out)
{
    int err = rt_image_create_uninit(src->width, src->height, src->channels, out);
    if (err)
        return err;
    memcpy((*out)->data, src->data, src->plane_stride * (size_t)src->channels * sizeof(float));
    return 0;
}

void rt_image_destroy(rt_image *im)
{
    if (!im)
        return;
    rt_free(im->data);
    free(im);
}
