/* Decoding (image_io.h): header probe, then pixels into planar float RGB,
 * through our JPEG reader or a libvips sink. */
#include "core/error.h"
#include "io/image_io_internal.h"
#include "io/jpeg_reader.h"
#include "io/vips_error.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int open_header(const char *path, const char *name, rt_file_format *fmt, VipsImage **out,
                       int sequential)
{
    const char *loader = vips_foreign_find_load(path);
    if (!loader) {
        rt_vips_error_drop();
        if (access(path, R_OK) != 0) return rt_error(RT_ERR_IO, "%s: cannot read the file", name);
        return rt_error(RT_ERR_IMAGE,
                        "%s: not a supported image; send a JPEG, PNG, TIFF, WebP or HEIF file",
                        name);
    }
    if (rt_io_loader_format(loader, fmt) != 0)
        return rt_error(RT_ERR_IMAGE,
                        "%s: this kind of file (%s) is not accepted; send a JPEG, PNG, TIFF, "
                        "WebP or HEIF file",
                        name, loader + (strncmp(loader, "VipsForeignLoad", 15) ? 0 : 15));
    VipsImage *im = vips_image_new_from_file(
        path, "access", sequential ? VIPS_ACCESS_SEQUENTIAL : VIPS_ACCESS_RANDOM, "fail_on",
        VIPS_FAIL_ON_ERROR, NULL);
    if (!im) {
        char why[512];
        rt_vips_error_take(why, sizeof why);
        return rt_error(RT_ERR_IMAGE, "%s: the image is corrupt or unreadable (%s)", name, why);
    }
    *out = im;
    return 0;
}

static int orientation_of(VipsImage *im)
{
    int o = 1;
    if (vips_image_get_typeof(im, VIPS_META_ORIENTATION) &&
        vips_image_get_int(im, VIPS_META_ORIENTATION, &o) == 0 && o >= 1 && o <= 8)
        return o;
    return 1;
}

static int check_size(const char *name, int w, int h, double max_mp)
{
    if (max_mp <= 0) max_mp = RT_DEFAULT_MAX_MEGAPIXELS;
    double mp = (double)w * (double)h / 1e6;
    if (w <= 0 || h <= 0) return rt_error(RT_ERR_IMAGE, "%s: the image has no pixels", name);
    if (mp > max_mp)
        return rt_error(RT_ERR_TOO_BIG,
                        "%s: the image is %dx%d = %.1f megapixels; the limit is %.0f megapixels",
                        name, w, h, mp, max_mp);
    return 0;
}

int rt_io_probe(const char *path, double max_megapixels, rt_image_info *info,
                rt_file_format *format)
{
    const char *name = rt_io_base_name(path);
    rt_file_format fmt;
    VipsImage *im;
    int err = open_header(path, name, &fmt, &im, 1);
    if (err) return err;
    int w = vips_image_get_width(im), h = vips_image_get_height(im);
    if (orientation_of(im) >= 5) {
        int t = w;
        w = h;
        h = t;
    }
    memset(info, 0, sizeof *info);
    info->width = w;
    info->height = h;
    info->bands = vips_image_get_bands(im);
    info->bits = vips_image_get_format(im) == VIPS_FORMAT_UCHAR ? 8 : 16;
    snprintf(info->format, sizeof info->format, "%s", rt_file_format_name(fmt));
    snprintf(info->mime, sizeof info->mime, "%s", rt_file_format_mime(fmt));
    if (format) *format = fmt;
    g_object_unref(im);
    return check_size(name, w, h, max_megapixels);
}

/* ---- decoding -------------------------------------------------------- */

typedef struct decode_ctx {
    rt_decoded *d;
    int bands;  /* bands in the vips image */
    int colour; /* bands holding colour: 1 or 3 */
    int has_alpha;
    int sixteen;
    float lut8[256];
    size_t written; /* pixels converted: libvips can skip a tile it failed
                     * to decode (a short PNG) and still report success */
} decode_ctx;

/* Called by vips_sink from its worker threads, each with a prepared region
 * of pixels: converting in the workers overlaps it with the (serial)
 * decoder, and the areas are disjoint, so no locking. */
static int decode_tile(VipsRegion *region, void *seq, void *a, void *unused, gboolean *stop)
{
    decode_ctx *ctx = a;
    const VipsRect *area = &region->valid;
    (void)seq;
    (void)unused;
    (void)stop;
    rt_image *im = ctx->d->image;
    const int w = im->width;
    float *r = rt_image_plane(im, 0), *g = rt_image_plane(im, 1), *b = rt_image_plane(im, 2);
    const int x0 = area->left, x1 = area->left + area->width;
    __atomic_add_fetch(&ctx->written, (size_t)area->width * (size_t)area->height, __ATOMIC_RELAXED);
    for (int y = area->top; y < area->top + area->height; y++) {
        size_t row = (size_t)y * w;
        const VipsPel *p = VIPS_REGION_ADDR(region, x0, y);
        if (ctx->sixteen) {
            const unsigned short *s = (const unsigned short *)p;
            const float k = 1.0f / 65535.0f;
            for (int x = x0; x < x1; x++, s += ctx->bands) {
                float v0 = s[0] * k;
                if (ctx->colour == 3) {
                    r[row + x] = v0;
                    g[row + x] = s[1] * k;
                    b[row + x] = s[2] * k;
                } else {
                    r[row + x] = g[row + x] = b[row + x] = v0;
                }
                if (ctx->has_alpha) ctx->d->alpha[row + x] = s[ctx->colour] * k;
            }
        } else if (ctx->colour == 3 && !ctx->has_alpha) {
            const unsigned char *s = p;
            for (int x = x0; x < x1; x++, s += 3) {
                r[row + x] = ctx->lut8[s[0]];
                g[row + x] = ctx->lut8[s[1]];
                b[row + x] = ctx->lut8[s[2]];
            }
        } else {
            const unsigned char *s = p;
            for (int x = x0; x < x1; x++, s += ctx->bands) {
                float v0 = ctx->lut8[s[0]];
                if (ctx->colour == 3) {
                    r[row + x] = v0;
                    g[row + x] = ctx->lut8[s[1]];
                    b[row + x] = ctx->lut8[s[2]];
                } else {
                    r[row + x] = g[row + x] = b[row + x] = v0;
                }
                if (ctx->has_alpha) ctx->d->alpha[row + x] = ctx->lut8[s[ctx->colour]];
            }
        }
    }
    return 0;
}

/* The common JPEG case, without libvips's pixel path (jpeg_reader.h); im
 * supplies the metadata. */
static int decode_jpeg_direct(const char *path, const char *name, VipsImage *im, int orient,
                              int grey, rt_decoded **out)
{
    rt_decoded *d = calloc(1, sizeof *d);
    if (!d) return rt_error(RT_ERR_NOMEM, "out of memory");
    d->format = RT_FMT_JPEG;
    d->bits = 8;
    d->grey = grey;
    const int swap = orient >= 5;
    int err = rt_image_create_uninit(swap ? im->Ysize : im->Xsize, swap ? im->Xsize : im->Ysize, 3,
                                     &d->image);
    if (!err) err = rt_jpeg_read(path, name, orient, d->image);
    if (err) {
        rt_decoded_destroy(d);
        return err;
    }
    rt_metadata_grab(im, &d->meta, 1);
    *out = d;
    return 0;
}

int rt_decode(const char *path, double max_megapixels, rt_decoded **out)
{
    *out = NULL;
    const char *name = rt_io_base_name(path);
    rt_file_format fmt;
    VipsImage *im;
    int err = open_header(path, name, &fmt, &im, 1);
    if (err) return err;
    int orient = orientation_of(im);
    int w = vips_image_get_width(im), h = vips_image_get_height(im);
    if ((err = check_size(name, orient >= 5 ? h : w, orient >= 5 ? w : h, max_megapixels))) {
        g_object_unref(im);
        return err;
    }
    if (fmt == RT_FMT_JPEG) {
        int grey = 0;
        if (rt_jpeg_reader_supports(path, w, h, &grey)) {
            err = decode_jpeg_direct(path, name, im, orient, grey, out);
            g_object_unref(im);
            return err;
        }
    }
    if (orient != 1) {
        /* rotations need random access to the decoded pixels */
        g_object_unref(im);
        if ((err = open_header(path, name, &fmt, &im, 0))) return err;
        VipsImage *rot;
        if (vips_autorot(im, &rot, NULL)) {
            g_object_unref(im);
            char why[512];
            rt_vips_error_take(why, sizeof why);
            return rt_error(RT_ERR_IMAGE, "%s: cannot apply the EXIF orientation (%s)", name, why);
        }
        g_object_unref(im);
        im = rot;
    }

    /* Bring anything unusual (CMYK, Lab, float, 32-bit) to sRGB or RGB16. */
    VipsInterpretation interp = vips_image_get_interpretation(im);
    VipsBandFormat bf = vips_image_get_format(im);
    int keep_icc = 1;
    int plain = (bf == VIPS_FORMAT_UCHAR || bf == VIPS_FORMAT_USHORT) &&
                (interp == VIPS_INTERPRETATION_sRGB || interp == VIPS_INTERPRETATION_RGB16 ||
                 interp == VIPS_INTERPRETATION_B_W || interp == VIPS_INTERPRETATION_GREY16 ||
                 interp == VIPS_INTERPRETATION_MULTIBAND) &&
                im->Bands <= 4;
    if (!plain) {
        VipsImage *conv;
        VipsInterpretation target =
            bf == VIPS_FORMAT_UCHAR ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_RGB16;
        if (vips_colourspace(im, &conv, target, NULL)) {
            g_object_unref(im);
            char why[512];
            rt_vips_error_take(why, sizeof why);
            return rt_error(RT_ERR_IMAGE, "%s: unsupported colour layout (%s)", name, why);
        }
        g_object_unref(im);
        im = conv;
        keep_icc = interp == VIPS_INTERPRETATION_sRGB || interp == VIPS_INTERPRETATION_RGB16;
    }
    int bands = im->Bands;
    if (bands < 1 || bands > 4 ||
        (im->BandFmt != VIPS_FORMAT_UCHAR && im->BandFmt != VIPS_FORMAT_USHORT)) {
        g_object_unref(im);
        return rt_error(RT_ERR_IMAGE, "%s: %d-band images are not supported", name, bands);
    }

    rt_decoded *d = calloc(1, sizeof *d);
    if (!d) {
        g_object_unref(im);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    d->format = fmt;
    d->bits = im->BandFmt == VIPS_FORMAT_USHORT ? 16 : 8;
    d->grey = bands <= 2;
    decode_ctx ctx = {.d = d,
                      .bands = bands,
                      .colour = bands <= 2 ? 1 : 3,
                      .has_alpha = bands == 2 || bands == 4,
                      .sixteen = d->bits == 16};
    for (int i = 0; i < 256; i++)
        ctx.lut8[i] = (float)i / 255.0f;
    if ((err = rt_image_create_uninit(im->Xsize, im->Ysize, 3, &d->image))) goto fail;
    if (ctx.has_alpha && !(d->alpha = rt_alloc_floats(rt_image_pixels(d->image)))) {
        err = rt_error(RT_ERR_NOMEM, "out of memory for the alpha channel");
        goto fail;
    }
    rt_metadata_grab(im, &d->meta, keep_icc);
    if (vips_sink(im, NULL, decode_tile, NULL, &ctx, NULL)) {
        char why[512];
        rt_vips_error_take(why, sizeof why);
        err = rt_error(RT_ERR_IMAGE, "%s: the image is corrupt or truncated (%s)", name, why);
        goto fail;
    }
    if (ctx.written != rt_image_pixels(d->image)) {
        /* never hand on rows nobody wrote (they would hold an earlier
         * image's recycled pixels) */
        rt_vips_error_drop();
        err = rt_error(RT_ERR_IMAGE,
                       "%s: the image is corrupt or truncated (only %.0f %% of its pixels "
                       "could be decoded)",
                       name, 100.0 * (double)ctx.written / (double)rt_image_pixels(d->image));
        goto fail;
    }
    g_object_unref(im);
    *out = d;
    return 0;
fail:
    g_object_unref(im);
    rt_decoded_destroy(d);
    return err;
}

void rt_decoded_destroy(rt_decoded *d)
{
    if (!d) return;
    rt_image_destroy(d->image);
    rt_free(d->alpha);
    rt_metadata_clear(&d->meta);
    free(d);
}
