/* Baseline JPEG (quality q, 4:4:4) encoded in parallel horizontal strips.
 *
 * JPEG entropy coding is serial, but a restart marker resets it: each strip
 * of whole MCU rows is encoded on its own (libjpeg-turbo, standard tables,
 * same quantisation), and the strips' entropy-coded segments are joined with
 * RSTn markers under one header that declares the restart interval.  The
 * decoded pixels are exactly those of a serial encode at the same quality.
 * Metadata (EXIF with orientation reset to 1, XMP, ICC, IPTC, resolution) is
 * written as the usual APP markers.
 *
 * Ownership: *out is g_malloc'd (free with rt_encode_free / g_free).
 */
#ifndef RT_IO_JPEG_WRITER_H
#define RT_IO_JPEG_WRITER_H

#include "io/image_io.h"

/* src: 1 or 2 planes (grey, alpha ignored) or 3 or 4 (RGB, alpha ignored),
 * covering the whole canvas. */
int rt_jpeg_encode(const rt_planes *src, int quality, int dither, const rt_metadata *meta,
                   void **out, size_t *len);

#endif
