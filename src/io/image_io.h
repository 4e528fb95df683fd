/* Image decoding and encoding through libvips.
 *
 * Decoding reads the header first with libvips (format allow-list,
 * megapixel limit, metadata), then streams pixels into planar float RGB with
 * EXIF orientation applied: 8-bit grey/YCbCr JPEGs through our own
 * libjpeg-turbo reader (jpeg_reader.h, same samples, half the time), the
 * rest through libvips; alpha is kept apart so plugins never touch it.  A
 * decode that leaves any pixel unwritten is an error.  Encoding: JPEG by the
 * parallel strip writer (jpeg_writer.h), other formats by streaming planar
 * floats through a libvips generator (no interleaved full-size copy); both
 * with a deterministic sub-LSB dither for 8-bit output, and ICC, EXIF
 * (orientation reset to 1), XMP and IPTC re-attached.
 *
 * Files: image_format.c (names, limits, accepted loaders), image_decode.c,
 * image_metadata.c, image_encode.c; vips_error.h takes libvips's messages.
 *
 * Ownership: rt_decode() returns an rt_decoded owned by the caller, released
 * with rt_decoded_destroy(); it owns its image, alpha plane and metadata.
 */
#ifndef RT_IO_IMAGE_IO_H
#define RT_IO_IMAGE_IO_H

#include "core/image.h"
#include "retouch.h"

#include <stddef.h>

typedef enum rt_file_format {
    RT_FMT_JPEG,
    RT_FMT_PNG,
    RT_FMT_TIFF,
    RT_FMT_WEBP,
    RT_FMT_HEIF,
    RT_FMT_AVIF, /* HEIF with AV1 inside: written when the input was AVIF or asked for */
} rt_file_format;

const char *rt_file_format_name(rt_file_format f);      /* "jpeg" */
const char *rt_file_format_extension(rt_file_format f); /* "jpg" */
const char *rt_file_format_mime(rt_file_format f);      /* "image/jpeg" */
/* RT_ERR_TOO_BIG naming the limit when a w x h image does not fit the
 * format (JPEG: 65500 pixels a side, libjpeg's limit; WebP: 16383), else 0: jobs check it
 * before any work, the encoders again. */
int rt_file_format_check_size(rt_file_format f, int w, int h);

/* Metadata carried from the input to every output: the input's header
 * fields (ICC, EXIF, XMP, IPTC, ...) minus those describing its pixels. */
struct rt_meta_field;
typedef struct rt_metadata {
    struct rt_meta_field *fields;
    size_t nfields;
    double xres, yres; /* pixels per millimetre, 0 when unknown */
} rt_metadata;

void rt_metadata_clear(rt_metadata *m);
/* A blob field ("icc-profile-data", "exif-data", ...); -1 when absent. */
int rt_metadata_blob(const rt_metadata *m, const char *name, const void **data, size_t *len);

typedef struct rt_decoded {
    rt_image *image; /* RGB, planar float [0,1], orientation applied */
    float *alpha;    /* alpha plane [0,1] or NULL */
    int bits;        /* 8 or 16 */
    int grey;        /* the input was greyscale */
    rt_file_format format;
    rt_metadata meta;
    char note[400]; /* what the decoder had to assume (a CMYK profile), or "" */
} rt_decoded;

/* How a CMYK image that carries no ICC profile is read: its numbers mean
 * different colours on different presses, so one is assumed, and said in
 * rt_decoded.note.  cmyk_profile: NULL or "press", libvips's built-in
 * coated-press profile; "naive", the plain inversion R = (1 - C)(1 - K) that
 * simple RGB-to-CMYK tools apply; or the path of an ICC profile file. */
typedef struct rt_decode_options {
    double max_megapixels;
    const char *cmyk_profile;
} rt_decode_options;

/* Header-only probe; see rt_probe_image() in retouch.h. */
int rt_io_probe(const char *path, double max_megapixels, rt_image_info *info,
                rt_file_format *format);
int rt_decode(const char *path, double max_megapixels, rt_decoded **out);
int rt_decode_with(const char *path, const rt_decode_options *options, rt_decoded **out);
void rt_decoded_destroy(rt_decoded *d);

/* Planes to encode: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA (values in [0,1]).
 * The planes may cover only a rectangle of a larger canvas (layers that
 * touch part of the image): outside it every channel is 0 (transparent). */
typedef struct rt_planes {
    int width, height, n;
    const float *p[4];
    int canvas_w, canvas_h; /* output size; 0: the planes' own size */
    int x0, y0;             /* where the planes sit on the canvas */
    int add_alpha;          /* append alpha: 1 on the planes, 0 elsewhere */
} rt_planes;

typedef struct rt_encode_params {
    rt_file_format format;
    int bits;                /* 8 or 16 (16 only for PNG and TIFF) */
    int dither;              /* sub-LSB ordered noise on 8-bit output */
    const rt_metadata *meta; /* may be NULL */
} rt_encode_params;

/* Whole or not at all: through "<path>.part", fsync'd and renamed
 * (core/atomic_file.h). */
int rt_encode_file(const rt_planes *src, const rt_encode_params *ep, const char *path);
/* Whether this libvips can write the format (HEIF and AVIF need encoder
 * plugins in libheif); checked once per format by encoding a tiny image. */
int rt_format_can_encode(rt_file_format f);
/* *buf is g_malloc'd memory: free with rt_encode_free(). */
int rt_encode_buffer(const rt_planes *src, const rt_encode_params *ep, void **buf, size_t *len);
void rt_encode_free(void *buf);

/* Views of an image's planes (plus an optional alpha) for the encoder. */
rt_planes rt_planes_of(const rt_image *im, const float *alpha);

#endif
