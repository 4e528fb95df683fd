/* Baseline and progressive JPEG decoded straight into float planes.
 *
 * libvips decodes JPEG with the same libjpeg-turbo, but through its
 * sequential-access machinery: 24 MP took 120 ms that way against 66 ms for
 * libjpeg-turbo's own scanline loop (measured here).  This reader runs that
 * loop on the calling thread, strip by strip, while other threads convert
 * finished strips to float planes (the first touch of the 288 MB of planes
 * overlaps the entropy decoding).  The samples are libjpeg-turbo's with the
 * same settings libvips uses (islow IDCT, fancy upsampling), so the planes
 * are identical to the libvips path's; a test checks that.
 *
 * It handles what it can do exactly: 8-bit greyscale and YCbCr/RGB files,
 * with the EXIF orientation applied as the strips are converted.
 * rt_jpeg_reader_supports() says so from the header; anything else (CMYK,
 * YCCK, 12-bit) goes through libvips.  Metadata is not read here (libvips's
 * header parse does that).
 */
#ifndef RT_IO_JPEG_READER_H
#define RT_IO_JPEG_READER_H

#include "core/image.h"

/* 1 when path is a JPEG of width x height this reader decodes exactly, 0
 * otherwise (including unreadable files: the caller's own path reports). */
int rt_jpeg_reader_supports(const char *path, int width, int height, int *grey);

/* Decodes path into the three planes of im, upright: im is the file's size
 * turned by the EXIF orientation (1-8; 5-8 swap width and height), and a
 * grey file fills all three planes.  name is the file name for messages.
 * A truncated or corrupt file fails with RT_ERR_IMAGE naming what is
 * wrong. */
int rt_jpeg_read(const char *path, const char *name, int orientation, rt_image *im);

#endif
