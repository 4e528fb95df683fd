/* Encoding (image_io.h): JPEG by our parallel strip writer, the other
 * formats by streaming planar floats through a libvips generator. */
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/quantize.h"
#include "io/image_io_internal.h"
#include "io/jpeg_writer.h"
#include "io/vips_error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- encoding -------------------------------------------------------- */

typedef struct encode_ctx {
    const rt_planes *src;
    int bands;
    int sixteen;
    int dither;
} encode_ctx;

static int encode_generate(VipsRegion *out, void *seq, void *a, void *b, gboolean *stop)
{
    const encode_ctx *ctx = a;
    const rt_planes *src = ctx->src;
    const VipsRect *r = &out->valid;
    const int n = src->n, bands = ctx->bands;
    for (int y = r->top; y < VIPS_RECT_BOTTOM(r); y++) {
        int ly = y - src->y0;
        int row_in = ly >= 0 && ly < src->height;
        size_t row = (size_t)(row_in ? ly : 0) * src->width;
        if (ctx->sixteen) {
            unsigned short *q = (unsigned short *)VIPS_REGION_ADDR(out, r->left, y);
            for (int x = r->left; x < VIPS_RECT_RIGHT(r); x++) {
                int lx = x - src->x0;
                if (!row_in || lx < 0 || lx >= src->width) {
                    for (int c = 0; c < bands; c++)
                        *q++ = 0;
                    continue;
                }
                for (int c = 0; c < n; c++)
                    *q++ = (unsigned short)rt_level16(src->p[c][row + lx]);
                if (src->add_alpha) *q++ = 65535;
            }
        } else {
            VipsPel *q = VIPS_REGION_ADDR(out, r->left, y);
            /* the planes' columns in this region; zeros around them */
            const int left = r->left, right = VIPS_RECT_RIGHT(r);
            int in0 = src->x0 > left ? src->x0 : left;
            int in1 = src->x0 + src->width < right ? src->x0 + src->width : right;
            if (!row_in || in1 < in0) in0 = in1 = right;
            memset(q, 0, (size_t)(in0 - left) * bands);
            if (in1 > in0) {
                const float *rows[4];
                for (int c = 0; c < n; c++)
                    rows[c] = src->p[c] + row + (in0 - src->x0);
                VipsPel *o = q + (size_t)(in0 - left) * bands;
                rt_quantize8_interleave(rows, n, in1 - in0, in0, y, ctx->dither, o, bands);
                if (src->add_alpha)
                    for (int i = 0; i < in1 - in0; i++)
                        o[(size_t)i * bands + n] = 255;
            }
            memset(q + (size_t)(in1 - left) * bands, 0, (size_t)(right - in1) * bands);
        }
    }
    (void)seq;
    (void)b;
    (void)stop;
    return 0;
}

rt_planes rt_planes_of(const rt_image *im, const float *alpha)
{
    rt_planes p = {.width = im->width, .height = im->height, .n = im->channels};
    for (int c = 0; c < im->channels && c < 4; c++)
        p.p[c] = rt_image_plane(im, c);
    if (alpha && p.n < 4) p.p[p.n++] = alpha;
    return p;
}

/* Builds a lazily generated vips image over the planes. */
static VipsImage *planes_image(const rt_planes *src, const rt_encode_params *ep, encode_ctx *ctx)
{
    int sixteen = ep->bits == 16 && (ep->format == RT_FMT_PNG || ep->format == RT_FMT_TIFF);
    ctx->src = src;
    ctx->bands = src->n + (src->add_alpha ? 1 : 0);
    ctx->sixteen = sixteen;
    ctx->dither = ep->dither && !sixteen;
    VipsInterpretation interp =
        ctx->bands <= 2 ? (sixteen ? VIPS_INTERPRETATION_GREY16 : VIPS_INTERPRETATION_B_W)
                        : (sixteen ? VIPS_INTERPRETATION_RGB16 : VIPS_INTERPRETATION_sRGB);
    double xres = ep->meta && ep->meta->xres > 0 ? ep->meta->xres : 72.0 / 25.4;
    double yres = ep->meta && ep->meta->yres > 0 ? ep->meta->yres : 72.0 / 25.4;
    int cw = src->canvas_w > 0 ? src->canvas_w : src->width;
    int ch = src->canvas_h > 0 ? src->canvas_h : src->height;
    VipsImage *out = vips_image_new();
    vips_image_init_fields(out, cw, ch, ctx->bands,
                           sixteen ? VIPS_FORMAT_USHORT : VIPS_FORMAT_UCHAR, VIPS_CODING_NONE,
                           interp, xres, yres);
    if (vips_image_pipelinev(out, VIPS_DEMAND_STYLE_THINSTRIP, NULL) ||
        vips_image_generate(out, NULL, encode_generate, NULL, ctx, NULL)) {
        g_object_unref(out);
        return NULL;
    }
    if (ep->meta)
        for (size_t i = 0; i < ep->meta->nfields; i++)
            vips_image_set(out, ep->meta->fields[i].name, &ep->meta->fields[i].value);
    vips_image_set_int(out, VIPS_META_ORIENTATION, 1);
    return out;
}

static int save(VipsImage *im, const rt_encode_params *ep, const char *path, void **buf,
                size_t *len)
{
    switch (ep->format) {
    case RT_FMT_JPEG:
        return path ? vips_jpegsave(im, path, "Q", 95, "subsample_mode", VIPS_FOREIGN_SUBSAMPLE_OFF,
                                    NULL)
                    : vips_jpegsave_buffer(im, buf, len, "Q", 95, "subsample_mode",
                                           VIPS_FOREIGN_SUBSAMPLE_OFF, NULL);
    case RT_FMT_PNG:
        /* level 3: near level 6 size on photos at a fraction of the time */
        return path ? vips_pngsave(im, path, "compression", 3, NULL)
                    : vips_pngsave_buffer(im, buf, len, "compression", 3, NULL);
    case RT_FMT_TIFF:
        return path ? vips_tiffsave(im, path, "compression", VIPS_FOREIGN_TIFF_COMPRESSION_DEFLATE,
                                    "predictor", VIPS_FOREIGN_TIFF_PREDICTOR_HORIZONTAL, NULL)
                    : vips_tiffsave_buffer(im, buf, len, "compression",
                                           VIPS_FOREIGN_TIFF_COMPRESSION_DEFLATE, "predictor",
                                           VIPS_FOREIGN_TIFF_PREDICTOR_HORIZONTAL, NULL);
    case RT_FMT_WEBP:
        return path ? vips_webpsave(im, path, "Q", 95, NULL)
                    : vips_webpsave_buffer(im, buf, len, "Q", 95, NULL);
    case RT_FMT_HEIF:
        return path ? vips_heifsave(im, path, "Q", 90, NULL)
                    : vips_heifsave_buffer(im, buf, len, "Q", 90, NULL);
    case RT_FMT_AVIF: /* the same container with AV1: never HEVC under an .avif name */
        return path ? vips_heifsave(im, path, "Q", 90, "compression",
                                    VIPS_FOREIGN_HEIF_COMPRESSION_AV1, NULL)
                    : vips_heifsave_buffer(im, buf, len, "Q", 90, "compression",
                                           VIPS_FOREIGN_HEIF_COMPRESSION_AV1, NULL);
    }
    return -1;
}

static int encode(const rt_planes *src, const rt_encode_params *ep, const char *path, void **buf,
                  size_t *len)
{
    rt_dither_init();
    int cw = src->canvas_w > 0 ? src->canvas_w : src->width;
    int ch = src->canvas_h > 0 ? src->canvas_h : src->height;
    int err = rt_file_format_check_size(ep->format, cw, ch);
    if (err) return err;
    int whole = (src->canvas_w <= 0 || src->canvas_w == src->width) &&
                (src->canvas_h <= 0 || src->canvas_h == src->height) && src->x0 == 0 &&
                src->y0 == 0 && !src->add_alpha;
    if (ep->format == RT_FMT_JPEG && whole) {
        /* our own parallel encoder: JPEG's serial entropy coding would
         * otherwise be the slowest step of a job */
        void *jpeg;
        size_t jlen;
        err = rt_jpeg_encode(src, 95, ep->dither, ep->meta, &jpeg, &jlen);
        if (err) return err;
        if (path) {
            err = rt_write_file_atomic(path, jpeg, jlen);
            g_free(jpeg);
            return err;
        }
        *buf = jpeg;
        *len = jlen;
        return 0;
    }
    encode_ctx ctx;
    VipsImage *im = planes_image(src, ep, &ctx);
    if (!im) {
        char why[512];
        rt_vips_error_take(why, sizeof why);
        return rt_error(RT_ERR_INTERNAL, "cannot set up the encoder (%s)", why);
    }
    /* libvips writes the .part file, we commit it */
    char *part = path ? rt_part_path(path) : NULL;
    if (path && !part) {
        g_object_unref(im);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    int r = save(im, ep, part, buf, len);
    g_object_unref(im);
    if (part) {
        if (r) unlink(part);
        err = r ? 0 : rt_commit_part(part, path);
        free(part);
        if (err) return err;
    }
    if (r) {
        char why[512];
        rt_vips_error_take(why, sizeof why);
        return rt_error(path ? RT_ERR_IO : RT_ERR_INTERNAL, "cannot write %s %s (%s)",
                        rt_file_format_name(ep->format), path ? rt_io_base_name(path) : "image",
                        why);
    }
    return 0;
}

int rt_encode_file(const rt_planes *src, const rt_encode_params *ep, const char *path)
{
    return encode(src, ep, path, NULL, NULL);
}

int rt_encode_buffer(const rt_planes *src, const rt_encode_params *ep, void **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    return encode(src, ep, NULL, buf, len);
}

static int heif_encodes, avif_encodes;
static pthread_once_t heif_once = PTHREAD_ONCE_INIT, avif_once = PTHREAD_ONCE_INIT;

static int probe_encoder(rt_file_format f)
{
    static const float grey[16 * 16] = {0};
    rt_planes p = {.width = 16, .height = 16, .n = 1, .p = {grey}};
    rt_encode_params ep = {.format = f, .bits = 8};
    void *buf;
    size_t len;
    int ok = rt_encode_buffer(&p, &ep, &buf, &len) == 0;
    if (ok) g_free(buf);
    rt_error_clear();
    return ok;
}

static void probe_heif(void)
{
    heif_encodes = probe_encoder(RT_FMT_HEIF);
}

static void probe_avif(void)
{
    avif_encodes = probe_encoder(RT_FMT_AVIF);
}

int rt_format_can_encode(rt_file_format f)
{
    if (f == RT_FMT_HEIF) {
        pthread_once(&heif_once, probe_heif);
        return heif_encodes;
    }
    if (f == RT_FMT_AVIF) {
        pthread_once(&avif_once, probe_avif);
        return avif_encodes;
    }
    return 1;
}

void rt_encode_free(void *buf)
{
    g_free(buf);
}
