#include "core/image.h"

#include "core/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

/* Planes of a large image live on 2 MB pages where the kernel allows it:
 * a 24 MP float image is 70 000 faults on 4 KB pages, 140 on huge ones. */
#define HUGE_PAGE (2u << 20)

/* Large buffers (image planes) are recycled instead of returned to the
 * kernel: first-touching fresh memory costs about 0.5 ms per MB here (page
 * faults and zeroing, measured), ten times writing it again, and a job
 * allocates and frees several 288 MB planes at 24 MP.  At most POOL_HELD
 * bytes wait for reuse, none for longer than POOL_IDLE_SECONDS.  Sanitizer
 * builds skip the pool so that use-after-free stays visible. */
#define POOL_MIN_BYTES ((size_t)16 << 20)
#define POOL_HELD ((size_t)1 << 30)
#define POOL_IDLE_SECONDS 60.0
#define POOL_SLOTS 64

static void *fresh_block(size_t rounded)
{
    void *p = NULL;
    size_t align = rounded >= 4 * (size_t)HUGE_PAGE ? HUGE_PAGE : 64;
    if (posix_memalign(&p, align, rounded) != 0) return NULL;
    if (align == HUGE_PAGE) madvise(p, rounded & ~(size_t)(HUGE_PAGE - 1), MADV_HUGEPAGE);
    return p;
}

#ifndef RT_NO_POOL
typedef struct big_block {
    void *p;
    size_t size;
    int in_use;
    double freed_at;
} big_block;

static big_block pool[POOL_SLOTS];
static size_t pool_free_bytes;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Frees idle blocks beyond the budget or older than the idle limit
 * (pool_lock held). */
static void pool_trim(double now)
{
    for (;;) {
        int oldest = -1;
        for (int i = 0; i < POOL_SLOTS; i++)
            if (pool[i].p && !pool[i].in_use &&
                (oldest < 0 || pool[i].freed_at < pool[oldest].freed_at))
                oldest = i;
        if (oldest < 0 ||
            (pool_free_bytes <= POOL_HELD && now - pool[oldest].freed_at < POOL_IDLE_SECONDS))
            return;
        pool_free_bytes -= pool[oldest].size;
        free(pool[oldest].p);
        memset(&pool[oldest], 0, sizeof pool[oldest]);
    }
}
#endif

void *rt_alloc_aligned(size_t bytes)
{
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded == 0) rounded = 64;
#ifndef RT_NO_POOL
    if (rounded >= POOL_MIN_BYTES) {
        pthread_mutex_lock(&pool_lock);
        /* the smallest idle block that fits without wasting over a quarter */
        int best = -1;
        for (int i = 0; i < POOL_SLOTS; i++)
            if (pool[i].p && !pool[i].in_use && pool[i].size >= rounded &&
                pool[i].size <= rounded + rounded / 4 &&
                (best < 0 || pool[i].size < pool[best].size))
                best = i;
        if (best >= 0) {
            pool[best].in_use = 1;
            pool_free_bytes -= pool[best].size;
            void *p = pool[best].p;
            pthread_mutex_unlock(&pool_lock);
            return p;
        }
        pthread_mutex_unlock(&pool_lock);
        void *p = fresh_block(rounded);
        if (!p) return NULL;
        pthread_mutex_lock(&pool_lock);
        for (int i = 0; i < POOL_SLOTS; i++)
            if (!pool[i].p) {
                pool[i] = (big_block){.p = p, .size = rounded, .in_use = 1};
                break;
            }
        pthread_mutex_unlock(&pool_lock);
        return p; /* untracked when every slot is taken: freed normally */
    }
#endif
    return fresh_block(rounded);
}

float *rt_alloc_floats(size_t n)
{
    if (n > SIZE_MAX / sizeof(float)) return NULL;
    return rt_alloc_aligned(n * sizeof(float));
}

void rt_free(void *p)
{
    if (!p) return;
#ifndef RT_NO_POOL
    pthread_mutex_lock(&pool_lock);
    for (int i = 0; i < POOL_SLOTS; i++)
        if (pool[i].p == p && pool[i].in_use) {
            pool[i].in_use = 0;
            pool[i].freed_at = seconds_now();
            pool_free_bytes += pool[i].size;
            pool_trim(pool[i].freed_at);
            pthread_mutex_unlock(&pool_lock);
            return;
        }
    pthread_mutex_unlock(&pool_lock);
#endif
    free(p);
}

void rt_memory_trim(void)
{
#ifndef RT_NO_POOL
    pthread_mutex_lock(&pool_lock);
    for (int i = 0; i < POOL_SLOTS; i++)
        if (pool[i].p && !pool[i].in_use) {
            free(pool[i].p);
            pool_free_bytes -= pool[i].size;
            memset(&pool[i], 0, sizeof pool[i]);
        }
    pthread_mutex_unlock(&pool_lock);
#endif
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
        return rt_error(RT_ERR_TOO_BIG, "image %dx%d is too large to hold in memory", width,
                        height);
    rt_image *im = calloc(1, sizeof *im);
    if (!im) return rt_error(RT_ERR_NOMEM, "out of memory for an image header");
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
    if (err) return err;
    memset((*out)->data, 0, (*out)->plane_stride * (size_t)channels * sizeof(float));
    return 0;
}

int rt_image_copy(const rt_image *src, rt_image **out)
{
    int err = rt_image_create_uninit(src->width, src->height, src->channels, out);
    if (err) return err;
    memcpy((*out)->data, src->data, src->plane_stride * (size_t)src->channels * sizeof(float));
    return 0;
}

void rt_image_destroy(rt_image *im)
{
    if (!im) return;
    rt_free(im->data);
    free(im);
}
