#include "io/image_io.h"

#include "core/error.h"
#include "core/quantize.h"
#include "io/jpeg_reader.h"
#include "io/jpeg_writer.h"
#include "io/vips_error.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

/* Metadata fields copied from the input: every header field except those
 * that describe the pixels of the file we read (they are set by the saver). */
struct rt_meta_field {
    char *name;
    GValue value;
};

const char *rt_file_format_name(rt_file_format f)
{
    static const char *const n[] = {"jpeg", "png", "tiff", "webp", "heif"};
    return n[f];
}

const char *rt_file_format_extension(rt_file_format f)
{
    static const char *const n[] = {"jpg", "png", "tif", "webp", "heic"};
    return n[f];
}

const char *rt_file_format_mime(rt_file_format f)
{
    static const char *const n[] = {"image/jpeg", "image/png", "image/tiff", "image/webp",
                                    "image/heif"};
    return n[f];
}

int rt_file_format_check_size(rt_file_format f, int w, int h)
{
    /* JPEG's frame header stores 16 bits and libjpeg reads at most 65500;
     * WebP's bitstream header stores 14 bits */
    int max = f == RT_FMT_JPEG ? 65500 : f == RT_FMT_WEBP ? 16383 : 0;
    if (max && (w > max || h > max))
        return rt_error(RT_ERR_TOO_BIG,
                        "the image is %dx%d pixels; %s holds at most %d pixels a side: ask for "
                        "outputFormat \"png\" or \"tiff\"",
                        w, h, f == RT_FMT_JPEG ? "JPEG" : "WebP", max);
    return 0;
}

/* The loaders we accept: a short allow-list keeps untrusted parsers
 * (SVG, PDF, matrix, CSV, ...) away from uploads. */
static int loader_format(const char *loader, rt_file_format *f)
{
    static const struct {
        const char *prefix;
        rt_file_format f;
    } table[] = {{"VipsForeignLoadJpeg", RT_FMT_JPEG},
                 {"VipsForeignLoadPng", RT_FMT_PNG},
                 {"VipsForeignLoadTiff", RT_FMT_TIFF},
                 {"VipsForeignLoadWebp", RT_FMT_WEBP},
                 {"VipsForeignLoadHeif", RT_FMT_HEIF}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strncmp(loader, table[i].prefix, strlen(table[i].prefix)) == 0) {
            *f = table[i].f;
            return 0;
        }
    return -1;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

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
    if (loader_format(loader, fmt) != 0)
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
    const char *name = base_name(path);
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

static int is_pixel_field(const char *name)
{
    static const char *const skip[] = {"width",
                                       "height",
                                       "bands",
                                       "format",
                                       "coding",
                                       "interpretation",
                                       "xoffset",
                                       "yoffset",
                                       "xres",
                                       "yres",
                                       "filename",
                                       "mode",
                                       "orientation",
                                       "n-pages",
                                       "page-height",
                                       "bits-per-sample",
                                       "vips-loader",
                                       "interlaced",
                                       "palette-bit-depth",
                                       "heif-primary",
                                       "heif-depth",
                                       "jpeg-multiscan",
                                       "jpeg-chroma-subsample",
                                       "png-comment-",
                                       "tiff-",
                                       "exif-ifd0-Orientation",
                                       NULL};
    for (int i = 0; skip[i]; i++) {
        size_t n = strlen(skip[i]);
        if (skip[i][n - 1] == '-' ? strncmp(name, skip[i], n) == 0 : strcmp(name, skip[i]) == 0)
            return 1;
    }
    return 0;
}

typedef struct meta_list {
    struct rt_meta_field *f;
    size_t n, cap;
} meta_list;

static void *collect_field(VipsImage *im, const char *name, GValue *value, void *a)
{
    meta_list *l = a;
    if (is_pixel_field(name)) return NULL;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        struct rt_meta_field *f = realloc(l->f, cap * sizeof *f);
        if (!f) return NULL;
        l->f = f;
        l->cap = cap;
    }
    struct rt_meta_field *f = &l->f[l->n];
    memset(f, 0, sizeof *f);
    f->name = strdup(name);
    g_value_init(&f->value, G_VALUE_TYPE(value));
    if (G_VALUE_TYPE(value) == VIPS_TYPE_BLOB) {
        /* a deep copy: some loaders (HEIF) hand out blobs whose bytes die
         * with the loaded image */
        size_t len;
        const void *data =
            vips_area_get_data(VIPS_AREA(g_value_get_boxed(value)), &len, NULL, NULL, NULL);
        VipsBlob *copy = vips_blob_copy(data, len);
        g_value_set_boxed(&f->value, copy);
        vips_area_unref(VIPS_AREA(copy));
    } else {
        g_value_copy(value, &f->value);
    }
    l->n++;
    (void)im;
    return NULL;
}

static void grab_metadata(VipsImage *im, rt_metadata *m, int keep_icc)
{
    meta_list l = {0};
    vips_image_map(im, collect_field, &l);
    /* an ICC profile that no longer describes the pixels (after a colour
     * space conversion) is dropped */
    if (!keep_icc)
        for (size_t i = 0; i < l.n; i++)
            if (strcmp(l.f[i].name, VIPS_META_ICC_NAME) == 0) {
                free(l.f[i].name);
                g_value_unset(&l.f[i].value);
                l.f[i] = l.f[--l.n];
                break;
            }
    m->fields = l.f;
    m->nfields = l.n;
    m->xres = im->Xres;
    m->yres = im->Yres;
}

void rt_metadata_clear(rt_metadata *m)
{
    for (size_t i = 0; i < m->nfields; i++) {
        free(m->fields[i].name);
        g_value_unset(&m->fields[i].value);
    }
    free(m->fields);
    memset(m, 0, sizeof *m);
}

int rt_metadata_blob(const rt_metadata *m, const char *name, const void **data, size_t *len)
{
    for (size_t i = 0; i < m->nfields; i++)
        if (strcmp(m->fields[i].name, name) == 0 &&
            G_VALUE_TYPE(&m->fields[i].value) == VIPS_TYPE_BLOB) {
            VipsBlob *b = g_value_get_boxed(&m->fields[i].value);
            *data = vips_area_get_data(VIPS_AREA(b), len, NULL, NULL, NULL);
            return 0;
        }
    return -1;
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
    grab_metadata(im, &d->meta, 1);
    *out = d;
    return 0;
}

int rt_decode(const char *path, double max_megapixels, rt_decoded **out)
{
    *out = NULL;
    const char *name = base_name(path);
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
    grab_metadata(im, &d->meta, keep_icc);
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

/* ---- encoding -------------------------------------------------------- */

static inline int quantize16(float v)
{
    float f = v * 65535.0f + 0.5f;
    if (!(f > 0.0f)) return 0;
    if (f >= 65535.0f) return 65535;
    return (int)f;
}

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
                    *q++ = (unsigned short)quantize16(src->p[c][row + lx]);
                if (src->add_alpha) *q++ = 65535;
            }
        } else {
            VipsPel *q = VIPS_REGION_ADDR(out, r->left, y);
            const float *noise[4];
            for (int c = 0; c < 4; c++)
                noise[c] = rt_dither_row(y, c);
            for (int x = r->left; x < VIPS_RECT_RIGHT(r); x++) {
                int lx = x - src->x0;
                if (!row_in || lx < 0 || lx >= src->width) {
                    for (int c = 0; c < bands; c++)
                        *q++ = 0;
                    continue;
                }
                int dx = x & (RT_DITHER_TILE - 1);
                for (int c = 0; c < n; c++) {
                    float f =
                        src->p[c][row + lx] * 255.0f + 0.5f + (ctx->dither ? noise[c][dx] : 0.0f);
                    *q++ = (VipsPel)(f > 0.0f ? (f < 255.0f ? (int)f : 255) : 0);
                }
                if (src->add_alpha) *q++ = 255;
            }
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
    }
    return -1;
}

static int write_whole_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return rt_error(RT_ERR_IO, "cannot write %s", path);
    int bad = fwrite(data, 1, len, f) != len;
    bad |= fclose(f) != 0;
    return bad ? rt_error(RT_ERR_IO, "cannot write %s (disk full?)", path) : 0;
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
            err = write_whole_file(path, jpeg, jlen);
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
    int r = save(im, ep, path, buf, len);
    g_object_unref(im);
    if (r) {
        char why[512];
        rt_vips_error_take(why, sizeof why);
        return rt_error(path ? RT_ERR_IO : RT_ERR_INTERNAL, "cannot write %s %s (%s)",
                        rt_file_format_name(ep->format), path ? base_name(path) : "image", why);
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

static int heif_encodes;
static pthread_once_t heif_once = PTHREAD_ONCE_INIT;

static void probe_heif(void)
{
    static const float grey[16 * 16] = {0};
    rt_planes p = {.width = 16, .height = 16, .n = 1, .p = {grey}};
    rt_encode_params ep = {.format = RT_FMT_HEIF, .bits = 8};
    void *buf;
    size_t len;
    heif_encodes = rt_encode_buffer(&p, &ep, &buf, &len) == 0;
    if (heif_encodes) g_free(buf);
    rt_error_clear();
}

int rt_format_can_encode(rt_file_format f)
{
    if (f != RT_FMT_HEIF) return 1;
    pthread_once(&heif_once, probe_heif);
    return heif_encodes;
}

void rt_encode_free(void *buf)
{
    g_free(buf);
}
