#include "io/jpeg_writer.h"

#include "core/error.h"
#include "core/quantize.h"

#include <omp.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#include <jpeglib.h>

/* The restart interval is a 16-bit count of MCUs. */
#define MAX_RESTART_MCUS 65535
/* The frame header stores each side in 16 bits, and libjpeg (so every
 * reader built on it, libvips's too) refuses sides over 65500. */
#define JPEG_MAX_SIDE 65500
#define MAX_MCU_ROWS_PER_STRIP 64
/* rows converted to 8-bit samples at a time */
#define SAMPLE_ROWS 16

typedef struct jpeg_error {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} jpeg_error;

static void on_jpeg_error(j_common_ptr cinfo)
{
    jpeg_error *e = (jpeg_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

static void on_jpeg_message(j_common_ptr cinfo, int level)
{
    (void)cinfo;
    (void)level; /* warnings of the encoder are not interesting */
}

typedef struct strip {
    unsigned char *jpeg; /* libjpeg's output for this strip (malloc'd by libjpeg) */
    unsigned long len;
    size_t data_start, data_end; /* its entropy-coded segment */
    int failed;
    char message[JMSG_LENGTH_MAX];
} strip;

/* Rows y0..y0+rows of the planes as interleaved 8-bit samples. */
static void strip_samples(const rt_planes *src, int comps, int dither, int y0, int rows,
                          unsigned char *dst)
{
    const int w = src->width;
    for (int r = 0; r < rows; r++) {
        const size_t row = (size_t)(y0 + r) * w;
        const float *planes[3] = {src->p[0] + row, comps == 3 ? src->p[1] + row : NULL,
                                  comps == 3 ? src->p[2] + row : NULL};
        rt_quantize8_interleave(planes, comps, w, 0, y0 + r, dither, dst + (size_t)r * w * comps,
                                comps);
    }
}

/* JFIF's 16-bit density for a resolution in pixels per millimetre; 0 when
 * it does not fit (a crafted or absurd resolution is left out). */
static int dots_per_inch(double per_mm)
{
    double dpi = per_mm * 25.4 + 0.5;
    return dpi >= 1.0 && dpi <= 65535.0 ? (int)dpi : 0;
}

static int encode_strip(const rt_planes *src, int comps, int quality, int dither, int y0, int rows,
                        const rt_metadata *meta, strip *out)
{
    struct jpeg_compress_struct cinfo;
    jpeg_error err;
    /* a few rows at a time: a whole strip of samples would be ~9 MB of
     * fresh memory per strip at 24 MP, and first touches are slow */
    unsigned char *samples = malloc((size_t)src->width * SAMPLE_ROWS * comps);
    if (!samples) {
        snprintf(out->message, sizeof out->message, "out of memory");
        return -1;
    }
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = on_jpeg_error;
    err.mgr.emit_message = on_jpeg_message;
    out->jpeg = NULL;
    out->len = 0;
    /* ours until libjpeg outgrows it: then it mallocs a bigger one and
     * leaves this one to us */
    unsigned char *volatile initial = NULL;
    if (setjmp(err.jump)) {
        snprintf(out->message, sizeof out->message, "%s", err.message);
        jpeg_destroy_compress(&cinfo);
        free(samples);
        if (out->jpeg != initial) free(out->jpeg);
        free(initial);
        out->jpeg = NULL;
        return -1;
    }
    jpeg_create_compress(&cinfo);
    /* room for a typical Q95 strip up front: libjpeg would otherwise grow
     * its buffer from 4 KB by doubling and copying */
    out->len = (unsigned long)src->width * rows * comps / 3 + 65536;
    out->jpeg = initial = malloc(out->len);
    if (!out->jpeg) out->len = 0;
    jpeg_mem_dest(&cinfo, &out->jpeg, &out->len);
    cinfo.image_width = (JDIMENSION)src->width;
    cinfo.image_height = (JDIMENSION)rows;
    cinfo.input_components = comps;
    cinfo.in_color_space = comps == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    for (int c = 0; c < cinfo.num_components; c++)
        cinfo.comp_info[c].h_samp_factor = cinfo.comp_info[c].v_samp_factor = 1; /* 4:4:4 */
    cinfo.optimize_coding = FALSE; /* the standard tables, the same for every strip */
    cinfo.dct_method = JDCT_ISLOW;
    const int xdpi = meta && meta->xres > 0 ? dots_per_inch(meta->xres) : 0;
    const int ydpi = meta && meta->yres > 0 ? dots_per_inch(meta->yres) : xdpi;
    if (xdpi && ydpi) {
        cinfo.density_unit = 1; /* dots per inch */
        cinfo.X_density = (UINT16)xdpi;
        cinfo.Y_density = (UINT16)ydpi;
    }
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        int r0 = (int)cinfo.next_scanline, n = rows - r0 < SAMPLE_ROWS ? rows - r0 : SAMPLE_ROWS;
        strip_samples(src, comps, dither, y0 + r0, n, samples);
        JSAMPROW rowp[SAMPLE_ROWS];
        for (int k = 0; k < n; k++)
            rowp[k] = samples + (size_t)k * src->width * comps;
        jpeg_write_scanlines(&cinfo, rowp, (JDIMENSION)n);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    free(samples);
    if (out->jpeg != initial) free(initial);
    /* find the scan: segments until SOS, entropy data until the final EOI */
    const unsigned char *b = out->jpeg;
    size_t pos = 2;
    while (pos + 4 <= out->len && b[pos] == 0xFF && b[pos + 1] != 0xDA)
        pos += 2 + ((size_t)b[pos + 2] << 8 | b[pos + 3]);
    if (pos + 4 > out->len || b[pos] != 0xFF || out->len < 2 || b[out->len - 2] != 0xFF ||
        b[out->len - 1] != 0xD9) {
        snprintf(out->message, sizeof out->message, "unexpected JPEG stream layout");
        return -1;
    }
    out->data_start = pos + 2 + ((size_t)b[pos + 2] << 8 | b[pos + 3]);
    out->data_end = out->len - 2;
    return 0;
}

/* ---- assembling ------------------------------------------------------- */

typedef struct growbuf {
    unsigned char *p;
    size_t n, cap;
    int failed;
} growbuf;

static void put(growbuf *g, const void *data, size_t len)
{
    if (g->failed) return;
    if (g->n + len > g->cap) {
        size_t cap = g->cap ? g->cap : 1 << 20;
        while (cap < g->n + len)
            cap *= 2;
        unsigned char *p = g_try_realloc(g->p, cap);
        if (!p) {
            g->failed = 1;
            return;
        }
        g->p = p;
        g->cap = cap;
    }
    memcpy(g->p + g->n, data, len);
    g->n += len;
}

/* A segment whose payload (a then b) exceeds the 16-bit length is left
 * out: written, it would corrupt the file. */
static void put_marker(growbuf *g, int marker, const void *a, size_t alen, const void *b,
                       size_t blen)
{
    size_t seg = 2 + alen + blen;
    if (seg > 65535) return;
    unsigned char head[4] = {0xFF, (unsigned char)marker, (unsigned char)(seg >> 8),
                             (unsigned char)seg};
    put(g, head, 4);
    put(g, a, alen);
    if (blen) put(g, b, blen);
}

/* EXIF with its orientation tag set to 1 (the pixels are upright now). */
static void put_exif(growbuf *g, const unsigned char *exif, size_t len)
{
    if (len < 14 || len > 65533) return;
    int prefixed = memcmp(exif, "Exif\0\0", 6) == 0;
    if (!prefixed && len + 6 > 65533) return; /* no room for the prefix we add */
    unsigned char *copy = malloc(len);
    if (!copy) return;
    memcpy(copy, exif, len);
    size_t t = memcmp(copy, "Exif\0\0", 6) == 0 ? 6 : 0; /* TIFF header */
    int le = copy[t] == 'I';
#define RD16(o) (le ? (copy[o] | copy[(o) + 1] << 8) : (copy[o] << 8 | copy[(o) + 1]))
#define RD32(o)                                                                                    \
    (le ? ((uint32_t)copy[o] | (uint32_t)copy[(o) + 1] << 8 | (uint32_t)copy[(o) + 2] << 16 |      \
           (uint32_t)copy[(o) + 3] << 24)                                                          \
        : ((uint32_t)copy[o] << 24 | (uint32_t)copy[(o) + 1] << 16 |                               \
           (uint32_t)copy[(o) + 2] << 8 | (uint32_t)copy[(o) + 3]))
    if (t + 8 <= len) {
        size_t ifd = t + RD32(t + 4);
        if (ifd + 2 <= len) {
            int count = RD16(ifd);
            for (int i = 0; i < count; i++) {
                size_t e = ifd + 2 + (size_t)i * 12;
                if (e + 12 > len) break;
                if (RD16(e) == 0x0112) {
                    copy[e + 8] = le ? 1 : 0;
                    copy[e + 9] = le ? 0 : 1;
                }
            }
        }
    }
#undef RD16
#undef RD32
    if (t == 0)
        put_marker(g, 0xE1, "Exif\0\0", 6, copy, len);
    else
        put_marker(g, 0xE1, copy, len, NULL, 0);
    free(copy);
}

static void put_metadata(growbuf *g, const rt_metadata *meta)
{
    const void *data;
    size_t len;
    if (!meta) return;
    if (rt_metadata_blob(meta, "exif-data", &data, &len) == 0) put_exif(g, data, len);
    static const char xmp_ns[] = "http://ns.adobe.com/xap/1.0/";
    if (rt_metadata_blob(meta, "xmp-data", &data, &len) == 0 && len + sizeof xmp_ns <= 65533)
        put_marker(g, 0xE1, xmp_ns, sizeof xmp_ns, data, len);
    if (rt_metadata_blob(meta, "icc-profile-data", &data, &len) == 0 && len > 0) {
        /* APP2 chunks: "ICC_PROFILE\0", sequence number, count */
        const size_t chunk = 65519;
        size_t nchunks = (len + chunk - 1) / chunk;
        for (size_t i = 0; i < nchunks && nchunks < 256; i++) {
            unsigned char head[14];
            memcpy(head, "ICC_PROFILE", 12);
            head[12] = (unsigned char)(i + 1);
            head[13] = (unsigned char)nchunks;
            size_t n = len - i * chunk < chunk ? len - i * chunk : chunk;
            put_marker(g, 0xE2, head, 14, (const unsigned char *)data + i * chunk, n);
        }
    }
    if (rt_metadata_blob(meta, "iptc-data", &data, &len) == 0 && len + 2 <= 65535)
        put_marker(g, 0xED, data, len, NULL, 0);
}

/* Strip 0's frame header (SOF0, written by libjpeg for `rows` rows) made
 * to describe the whole image: checked to be the segment we expect before
 * a byte of it changes. */
static int set_frame_height(unsigned char *seg, size_t seglen, int rows, int w, int h)
{
    /* FF C0, length, precision, height (2), width (2), components, ... */
    if (seglen < 10 || seg[0] != 0xFF || seg[1] != 0xC0 || seg[4] != 8 ||
        (seg[5] << 8 | seg[6]) != rows || (seg[7] << 8 | seg[8]) != w || h > JPEG_MAX_SIDE)
        return rt_error(RT_ERR_INTERNAL, "JPEG encoder: unexpected frame header");
    seg[5] = (unsigned char)(h >> 8);
    seg[6] = (unsigned char)h;
    return 0;
}

int rt_jpeg_encode(const rt_planes *src, int quality, int dither, const rt_metadata *meta,
                   void **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    const int comps = src->n >= 3 ? 3 : 1;
    const int w = src->width, h = src->height;
    if (w < 1 || h < 1) return rt_error(RT_ERR_ARG, "JPEG encoder: the image has no pixels");
    /* before any work: libjpeg would take a larger size, and the frame
     * header we assemble has 16 bits for it */
    if (w > JPEG_MAX_SIDE || h > JPEG_MAX_SIDE)
        return rt_error(RT_ERR_TOO_BIG,
                        "the image is %dx%d pixels; JPEG holds at most %d pixels a side: ask "
                        "for outputFormat \"png\" or \"tiff\"",
                        w, h, JPEG_MAX_SIDE);
    const int mcus_per_row = (w + 7) / 8;
    int mcu_rows = MAX_RESTART_MCUS / mcus_per_row;
    if (mcu_rows > MAX_MCU_ROWS_PER_STRIP) mcu_rows = MAX_MCU_ROWS_PER_STRIP;
    if (mcu_rows < 1)
        return rt_error(RT_ERR_TOO_BIG, "image %d pixels wide is too wide for JPEG", w);
    const int rows_per_strip = 8 * mcu_rows;
    const int nstrips = (h + rows_per_strip - 1) / rows_per_strip;
    strip *strips = calloc((size_t)nstrips, sizeof *strips);
    if (!strips) return rt_error(RT_ERR_NOMEM, "out of memory");
    rt_dither_init();
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < nstrips; i++) {
        int y0 = i * rows_per_strip;
        int rows = h - y0 < rows_per_strip ? h - y0 : rows_per_strip;
        strips[i].failed = encode_strip(src, comps, quality, dither, y0, rows, meta, &strips[i]);
    }
    int err = 0;
    for (int i = 0; i < nstrips && !err; i++)
        if (strips[i].failed)
            err = rt_error(RT_ERR_INTERNAL, "JPEG encoder: %s", strips[i].message);
    growbuf g = {0};
    if (!err) {
        /* sized once: growing by doubling would first-touch and copy about
         * twice the file (slow fresh memory here); metadata fits the slack
         * or grows it */
        size_t total = (size_t)1 << 20;
        for (int i = 0; i < nstrips; i++)
            total += strips[i].len;
        g.p = g_try_malloc(total);
        g.cap = g.p ? total : 0;
        /* strip 0's header, with the metadata after its JFIF marker, the
         * full height in the frame header and the restart interval */
        const unsigned char *b = strips[0].jpeg;
        put(&g, b, 2); /* SOI */
        size_t pos = 2;
        int metadata_written = 0, frame_set = 0;
        while (pos < strips[0].data_start && !err) {
            int marker = b[pos + 1];
            size_t seg = 2 + ((size_t)b[pos + 2] << 8 | b[pos + 3]);
            if (marker != 0xE0 && !metadata_written) {
                put_metadata(&g, meta);
                metadata_written = 1;
            }
            if (marker == 0xDA && nstrips > 1) {
                unsigned interval = (unsigned)(mcus_per_row * mcu_rows);
                unsigned char dri[6] = {
                    0xFF, 0xDD, 0, 4, (unsigned char)(interval >> 8), (unsigned char)interval};
                put(&g, dri, 6);
            }
            size_t start = g.n;
            put(&g, b + pos, seg);
            if (marker == 0xC0 && !g.failed) {
                err = set_frame_height(g.p + start, seg, h < rows_per_strip ? h : rows_per_strip, w,
                                       h);
                frame_set = 1;
            }
            if (marker == 0xE0 && !metadata_written) {
                put_metadata(&g, meta);
                metadata_written = 1;
            }
            pos += seg;
        }
        if (!err && !g.failed && !frame_set)
            err = rt_error(RT_ERR_INTERNAL, "JPEG encoder: no baseline frame header");
        for (int i = 0; i < nstrips && !err; i++) {
            put(&g, strips[i].jpeg + strips[i].data_start,
                strips[i].data_end - strips[i].data_start);
            if (i + 1 < nstrips) {
                unsigned char rst[2] = {0xFF, (unsigned char)(0xD0 + (i & 7))};
                put(&g, rst, 2);
            }
        }
        unsigned char eoi[2] = {0xFF, 0xD9};
        put(&g, eoi, 2);
        if (!err && g.failed) err = rt_error(RT_ERR_NOMEM, "out of memory for the JPEG");
    }
    for (int i = 0; i < nstrips; i++)
        free(strips[i].jpeg);
    free(strips);
    if (err) {
        g_free(g.p);
        return err;
    }
    *out = g.p;
    *len = g.n;
    return 0;
}
