/* What the parts of image_io.h share (image_format.c, image_decode.c,
 * image_metadata.c, image_encode.c); not for use outside src/io. */
#ifndef RT_IO_IMAGE_IO_INTERNAL_H
#define RT_IO_IMAGE_IO_INTERNAL_H

#include "io/image_io.h"

#include <vips/vips.h>

/* Metadata fields copied from the input: every header field except those
 * that describe the pixels of the file we read (they are set by the saver). */
struct rt_meta_field {
    char *name;
    GValue value;
};

/* The format of an accepted libvips loader ("VipsForeignLoadJpegFile"); -1
 * for a loader outside the allow-list. */
int rt_io_loader_format(const char *loader, rt_file_format *f);

/* The file name without its directories: what messages name (a job's
 * directory holds its id). */
const char *rt_io_base_name(const char *path);

/* Copies im's header fields into m (minus those describing pixels; minus
 * the ICC profile unless keep_icc). */
void rt_metadata_grab(VipsImage *im, rt_metadata *m, int keep_icc);

#endif
