/* Decoding (image_io.h): header probe, then pixels into planar float RGB,
 * through our JPEG reader or a libvips sink. */
#include "core/error.h"
#include "io/image_io_internal.h"
#include "io/jpeg_reader.h"
#include "io/vips_error.h"

#include <errno.h>
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

/* A CMYK image without an ICC profile, to sRGB (or RGB16) by the profile
 * asked for; note says which one was assumed. */
static int cmyk_without_profile(VipsImage *im, const char *name, const char *profile,
                                VipsImage **out, char *note, size_t cap)
{
    const int sixteen = vips_image_get_format(im) == VIPS_FORMAT_USHORT;
    const VipsInterpretation target =
        sixteen ? VIPS_INTERPRETATION_RGB16 : VIPS_INTERPRETATION_sRGB;
    char why[512];
    if (!profile || strcmp(profile, "press") == 0) {
        if (vips_colourspace(im, out, target, NULL)) goto vips_failed;
        snprintf(note, cap,
                 "a CMYK image without an ICC profile: its colours were read with libvips's "
                 "built-in coated-press CMYK profile (assumed); if it was made by a simple "
                 "RGB-to-CMYK conversion, ask for \"naive\" (payload \"cmykProfile\", CLI "
                 "--cmyk-profile)");
        return 0;
    }
    if (strcmp(profile, "naive") == 0) {
        if (im->Bands != 4 && im->Bands != 5)
            return rt_error(RT_ERR_IMAGE, "%s: a CMYK image with %d bands", name, im->Bands);
        /* R = (max - C)(max - K) / max, rounded; alpha (band 5) kept */
        const double max = sixteen ? 65535.0 : 255.0;
        VipsImage *t[8] = {0};
        int bad = vips_extract_band(im, &t[0], 0, "n", 3, NULL) ||
                  vips_extract_band(im, &t[1], 3, NULL) || vips_invert(t[0], &t[2], NULL) ||
                  vips_invert(t[1], &t[3], NULL) || vips_multiply(t[2], t[3], &t[4], NULL) ||
                  vips_linear1(t[4], &t[5], 1.0 / max, 0.5, NULL) ||
                  vips_cast(t[5], &t[6], sixteen ? VIPS_FORMAT_USHORT : VIPS_FORMAT_UCHAR, NULL);
        if (!bad && im->Bands == 5) {
            VipsImage *alpha = NULL, *joined = NULL;
            bad = vips_extract_band(im, &alpha, 4, NULL) ||
                  vips_bandjoin2(t[6], alpha, &joined, NULL);
            if (alpha) g_object_unref(alpha);
            if (!bad) {
                g_object_unref(t[6]);
                t[6] = joined;
            }
        }
        if (!bad) bad = vips_copy(t[6], out, "interpretation", target, NULL);
        for (int i = 0; i < 8; i++)
            if (t[i]) g_object_unref(t[i]);
        if (bad) goto vips_failed;
        snprintf(note, cap,
                 "a CMYK image without an ICC profile: its colours were read by plain "
                 "inversion, R = (1 - C)(1 - K) (\"naive\", as asked)");
        return 0;
    }
    if (access(profile, R_OK) != 0)
        return rt_error(RT_ERR_ARG, "CMYK profile %s: %s", profile, strerror(errno));
    VipsImage *lab = NULL;
    if (vips_icc_import(im, &lab, "input_profile", profile, "embedded", FALSE, NULL))
        goto vips_failed;
    int bad = vips_colourspace(lab, out, target, NULL);
    g_object_unref(lab);
    if (bad) goto vips_failed;
    snprintf(note, cap,
             "a CMYK image without an ICC profile: its colours were read with the profile "
             "%s (as asked)",
             rt_io_base_name(profile));
    return 0;
vips_failed:
    rt_vips_error_take(why, sizeof why);
    return rt_error(RT_ERR_IMAGE, "%s: cannot convert its CMYK colours (%s)", name, why);
}

int rt_decode(const char *path, double max_megapixels, rt_decoded **out)
{
    rt_decode_options options = {.max_megapixels = max_megapixels};
    return rt_decode_with(path, &options, out);
}

int rt_decode_with(const char *path, const rt_decode_options *options, rt_decoded **out)
{
    *out = NULL;
    const double max_megapixels = options->max_megapixels;
    char note[sizeof((rt_decoded *)0)->note] = "";
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
        if (interp == VIPS_INTERPRETATION_CMYK && !vips_image_get_typeof(im, VIPS_META_ICC_NAME)) {
            if ((err = cmyk_without_profile(im, name, options->cmyk_profile, &conv, note,
                                            sizeof note))) {
                g_object_unref(im);
                return err;
            }
        } else if (vips_colourspace(im, &conv, target, NULL)) {
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
    /* an AVIF (AV1 in HEIF) is written back as AVIF, not as HEVC */
    const char *compression = NULL;
    if (fmt == RT_FMT_HEIF && vips_image_get_typeof(im, "heif-compression") &&
        vips_image_get_string(im, "heif-compression", &compression) == 0 && compression &&
        strcmp(compression, "av1") == 0)
        d->format = RT_FMT_AVIF;
    snprintf(d->note, sizeof d->note, "%s", note);
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
