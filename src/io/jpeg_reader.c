#include "io/jpeg_reader.h"

#include "core/error.h"

#include <omp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

/* Strips of decoded rows handed from the decoder to the converters; a ring
 * of a few keeps both sides busy in about 4 MB. */
#define STRIP_ROWS 32
#define RING 8

typedef struct reader_error {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    int truncated; /* 1: the file ends early, 2: a scan's data does */
    char message[JMSG_LENGTH_MAX];
} reader_error;

static void on_error(j_common_ptr cinfo)
{
    reader_error *e = (reader_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

/* Missing data is an error: the file ending early (as libvips's
 * fail_on=error has it), or a scan's data ending before its pixels do
 * (libjpeg would fill the rest with grey, and libvips accepts that).  Other
 * warnings (stray bytes before a marker, common in camera files) are not. */
static void on_message(j_common_ptr cinfo, int level)
{
    reader_error *e = (reader_error *)cinfo->err;
    const int code = cinfo->err->msg_code;
    if (level == -1 && (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER)) {
        e->truncated = code == JWRN_JPEG_EOF ? 1 : 2;
        (*cinfo->err->format_message)(cinfo, e->message);
        longjmp(e->jump, 1);
    }
}

enum { SLOT_FREE, SLOT_FILLED, SLOT_CONVERTING };

typedef struct strip_ring {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    unsigned char *rows[RING]; /* STRIP_ROWS interleaved rows each */
    int state[RING];
    int strip[RING]; /* which strip a filled slot holds */
    int finished;    /* the decoder stopped (done or failed) */
} strip_ring;

typedef struct reader {
    struct jpeg_decompress_struct cinfo;
    reader_error err;
    FILE *fp;
    int comps;
    int orientation; /* EXIF, 1-8 */
    rt_image *im;
    strip_ring ring;
} reader;

/* Where stored pixel (x, y) of a W x H file lands in the upright image, as
 * an index o + x * ax + y * ay into its planes (EXIF orientations 1-8; 5-8
 * swap width and height, so the upright row length is H). */
typedef struct placement {
    ptrdiff_t o, ax, ay;
} placement;

static placement orientation_placement(int orientation, int W, int H)
{
    const ptrdiff_t w = W, h = H;
    switch (orientation) {
    case 2:
        return (placement){w - 1, -1, w};
    case 3:
        return (placement){(h - 1) * w + w - 1, -1, -w};
    case 4:
        return (placement){(h - 1) * w, 1, -w};
    case 5:
        return (placement){0, h, 1};
    case 6:
        return (placement){h - 1, h, -1};
    case 7:
        return (placement){(w - 1) * h + h - 1, -h, -1};
    case 8:
        return (placement){(w - 1) * h, -h, 1};
    default:
        return (placement){0, 1, w};
    }
}

/* A strip of a file with an EXIF orientation.  For 2-4 a stored row stays
 * a row; for 5-8 it becomes a column, and each stored column's pixels of
 * this strip form one run of an upright row: the loop walks columns and
 * writes runs, so writes stay sequential. */
static void convert_strip_oriented(const reader *rd, const unsigned char *src, int y0, int rows)
{
    rt_image *im = rd->im;
    const int W = (int)rd->cinfo.output_width, H = (int)rd->cinfo.output_height;
    const int comps = rd->comps;
    const placement pm = orientation_placement(rd->orientation, W, H);
    float *pl[3] = {rt_image_plane(im, 0), rt_image_plane(im, 1), rt_image_plane(im, 2)};
    const int ch[3] = {0, comps == 3 ? 1 : 0, comps == 3 ? 2 : 0};
    if (rd->orientation <= 4) {
        for (int k = 0; k < rows; k++) {
            const unsigned char *s = src + (size_t)k * W * comps;
            const ptrdiff_t row = pm.o + (ptrdiff_t)(y0 + k) * pm.ay;
            for (int c = 0; c < 3; c++)
                for (int x = 0; x < W; x++)
                    pl[c][row + x * pm.ax] = (float)s[(size_t)x * comps + ch[c]] / 255.0f;
        }
        return;
    }
    for (int x = 0; x < W; x++) {
        const ptrdiff_t run = pm.o + (ptrdiff_t)x * pm.ax + (ptrdiff_t)y0 * pm.ay;
        const unsigned char *s = src + (size_t)x * comps;
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < rows; k++)
                pl[c][run + k * pm.ay] = (float)s[(size_t)k * W * comps + ch[c]] / 255.0f;
    }
}

static void convert_strip(const reader *rd, const unsigned char *src, int strip)
{
    rt_image *im = rd->im;
    const int y0 = strip * STRIP_ROWS, H = (int)rd->cinfo.output_height;
    const int rows = H - y0 < STRIP_ROWS ? H - y0 : STRIP_ROWS;
    if (rd->orientation != 1) {
        convert_strip_oriented(rd, src, y0, rows);
        return;
    }
    const int w = im->width;
    float *r = rt_image_plane(im, 0), *g = rt_image_plane(im, 1), *b = rt_image_plane(im, 2);
    for (int k = 0; k < rows; k++) {
        const size_t row = (size_t)(y0 + k) * w;
        const unsigned char *s = src + (size_t)k * w * rd->comps;
        /* v / 255 divided, not looked up: the same correctly rounded
         * value as the table (and libvips's path), and it vectorises */
        if (rd->comps == 3) {
            for (int x = 0; x < w; x++) {
                r[row + x] = (float)s[3 * x] / 255.0f;
                g[row + x] = (float)s[3 * x + 1] / 255.0f;
                b[row + x] = (float)s[3 * x + 2] / 255.0f;
            }
        } else {
            for (int x = 0; x < w; x++)
                r[row + x] = g[row + x] = b[row + x] = (float)s[x] / 255.0f;
        }
    }
}

/* Decodes strip `strip` into buf; longjmps on a libjpeg error. */
static void decode_strip(reader *rd, unsigned char *buf, int strip)
{
    const int w = (int)rd->cinfo.output_width, H = (int)rd->cinfo.output_height;
    const int y0 = strip * STRIP_ROWS;
    const int rows = H - y0 < STRIP_ROWS ? H - y0 : STRIP_ROWS;
    int done = 0;
    while (done < rows) {
        JSAMPROW dst[STRIP_ROWS];
        for (int k = 0; k < rows - done; k++)
            dst[k] = buf + (size_t)(done + k) * w * rd->comps;
        JDIMENSION got = jpeg_read_scanlines(&rd->cinfo, dst, (JDIMENSION)(rows - done));
        if (got == 0) ERREXIT(&rd->cinfo, JERR_INPUT_EOF);
        done += (int)got;
    }
}

/* With the lock held: the filled slot holding the earliest strip, or -1. */
static int oldest_filled(const strip_ring *ring)
{
    int s = -1;
    for (int k = 0; k < RING; k++)
        if (ring->state[k] == SLOT_FILLED && (s < 0 || ring->strip[k] < ring->strip[s])) s = k;
    return s;
}

/* With the lock held: converts slot s, releasing the lock meanwhile. */
static void convert_slot(reader *rd, int s)
{
    strip_ring *ring = &rd->ring;
    ring->state[s] = SLOT_CONVERTING;
    pthread_mutex_unlock(&ring->lock);
    convert_strip(rd, ring->rows[s], ring->strip[s]);
    pthread_mutex_lock(&ring->lock);
    ring->state[s] = SLOT_FREE;
    pthread_cond_broadcast(&ring->changed);
}

/* The decoding thread: fills free slots in strip order. */
static int run_decoder(reader *rd, int nstrips, int inline_convert)
{
    strip_ring *ring = &rd->ring;
    volatile int strip = 0;
    if (setjmp(rd->err.jump)) {
        pthread_mutex_lock(&ring->lock);
        ring->finished = 1;
        pthread_cond_broadcast(&ring->changed);
        pthread_mutex_unlock(&ring->lock);
        return -1;
    }
    for (; strip < nstrips; strip++) {
        int s = strip % RING;
        if (inline_convert) {
            decode_strip(rd, ring->rows[s], strip);
            convert_strip(rd, ring->rows[s], strip);
            continue;
        }
        pthread_mutex_lock(&ring->lock);
        while (ring->state[s] != SLOT_FREE) {
            /* the converters are behind (an oriented file converts slower
             * than it decodes): help rather than wait */
            int f = oldest_filled(ring);
            if (f < 0) {
                pthread_cond_wait(&ring->changed, &ring->lock);
                continue;
            }
            convert_slot(rd, f);
        }
        pthread_mutex_unlock(&ring->lock);
        decode_strip(rd, ring->rows[s], strip);
        pthread_mutex_lock(&ring->lock);
        ring->state[s] = SLOT_FILLED;
        ring->strip[s] = strip;
        pthread_cond_broadcast(&ring->changed);
        pthread_mutex_unlock(&ring->lock);
    }
    jpeg_finish_decompress(&rd->cinfo);
    pthread_mutex_lock(&ring->lock);
    ring->finished = 1;
    pthread_cond_broadcast(&ring->changed);
    pthread_mutex_unlock(&ring->lock);
    return 0;
}

/* A converting thread: takes filled slots until the decoder has finished
 * and nothing is left. */
static void run_converter(reader *rd)
{
    strip_ring *ring = &rd->ring;
    pthread_mutex_lock(&ring->lock);
    for (;;) {
        int s = oldest_filled(ring);
        if (s >= 0) {
            convert_slot(rd, s);
            continue;
        }
        if (ring->finished) break;
        pthread_cond_wait(&ring->changed, &ring->lock);
    }
    pthread_mutex_unlock(&ring->lock);
}

/* Opens path and reads the header; 0 when it is a file this reader
 * decodes exactly. */
static int reader_open(reader *rd, const char *path)
{
    memset(rd, 0, sizeof *rd);
    rd->fp = fopen(path, "rb");
    if (!rd->fp) return -1;
    rd->cinfo.err = jpeg_std_error(&rd->err.mgr);
    rd->err.mgr.error_exit = on_error;
    rd->err.mgr.emit_message = on_message;
    jpeg_create_decompress(&rd->cinfo);
    if (setjmp(rd->err.jump)) return -1;
    jpeg_stdio_src(&rd->cinfo, rd->fp);
    if (jpeg_read_header(&rd->cinfo, TRUE) != JPEG_HEADER_OK) return -1;
    const J_COLOR_SPACE cs = rd->cinfo.jpeg_color_space;
    if (rd->cinfo.data_precision != 8) return -1;
    if (!(cs == JCS_GRAYSCALE && rd->cinfo.num_components == 1) &&
        !((cs == JCS_YCbCr || cs == JCS_RGB) && rd->cinfo.num_components == 3))
        return -1;
    rd->comps = cs == JCS_GRAYSCALE ? 1 : 3;
    return 0;
}

static void reader_close(reader *rd)
{
    jpeg_destroy_decompress(&rd->cinfo);
    if (rd->fp) fclose(rd->fp);
}

int rt_jpeg_reader_supports(const char *path, int width, int height, int *grey)
{
    reader rd;
    int ok = reader_open(&rd, path) == 0 && (int)rd.cinfo.image_width == width &&
             (int)rd.cinfo.image_height == height;
    if (ok && grey) *grey = rd.comps == 1;
    reader_close(&rd);
    return ok;
}

int rt_jpeg_read(const char *path, const char *name, int orientation, rt_image *im)
{
    reader *rd = malloc(sizeof *rd);
    if (!rd) return rt_error(RT_ERR_NOMEM, "out of memory");
    int err = 0;
    const int swap = orientation >= 5 && orientation <= 8;
    if (reader_open(rd, path) != 0 ||
        (int)rd->cinfo.image_width != (swap ? im->height : im->width) ||
        (int)rd->cinfo.image_height != (swap ? im->width : im->height) || im->channels < 3) {
        err = rt_error(RT_ERR_IMAGE, "%s: the JPEG header cannot be read (%s)", name,
                       rd->err.message[0] ? rd->err.message : "changed since it was probed");
        goto out;
    }
    rd->im = im;
    rd->orientation = orientation >= 1 && orientation <= 8 ? orientation : 1;
    rd->cinfo.out_color_space = rd->comps == 1 ? JCS_GRAYSCALE : JCS_RGB;
    rd->cinfo.dct_method = JDCT_ISLOW;
    rd->cinfo.do_fancy_upsampling = TRUE;
    if (setjmp(rd->err.jump)) {
        err = rt_error(RT_ERR_IMAGE, "%s: the image is corrupt or truncated (%s)", name,
                       rd->err.message);
        goto out;
    }
    jpeg_start_decompress(&rd->cinfo);

    const size_t strip_bytes = (size_t)rd->cinfo.output_width * rd->comps * STRIP_ROWS;
    strip_ring *ring = &rd->ring;
    unsigned char *slots = malloc(strip_bytes * RING);
    if (!slots) {
        err = rt_error(RT_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int k = 0; k < RING; k++)
        ring->rows[k] = slots + strip_bytes * k;
    pthread_mutex_init(&ring->lock, NULL);
    pthread_cond_init(&ring->changed, NULL);
    const int nstrips = ((int)rd->cinfo.output_height + STRIP_ROWS - 1) / STRIP_ROWS;
    int failed = 0;
#pragma omp parallel
    {
        /* thread 0 decodes (libjpeg is serial), the others convert; alone,
         * it does both */
        if (omp_get_thread_num() == 0)
            failed = run_decoder(rd, nstrips, omp_get_num_threads() == 1) != 0;
        else
            run_converter(rd);
    }
    pthread_cond_destroy(&ring->changed);
    pthread_mutex_destroy(&ring->lock);
    free(slots);
    if (failed)
        err = rt_error(RT_ERR_IMAGE, "%s: the image is corrupt or truncated (%s)", name,
                       rd->err.truncated == 1   ? "the file ends before the image data does"
                       : rd->err.truncated == 2 ? "the image data stops before its last rows"
                                                : rd->err.message);
out:
    reader_close(rd);
    free(rd);
    return err;
}
