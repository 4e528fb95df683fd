/* Output formats: names, limits, and the loaders accepted for input. */
#include "core/error.h"
#include "io/image_io_internal.h"

#include <string.h>

const char *rt_file_format_name(rt_file_format f)
{
    static const char *const n[] = {"jpeg", "png", "tiff", "webp", "heif", "avif"};
    return n[f];
}

const char *rt_file_format_extension(rt_file_format f)
{
    static const char *const n[] = {"jpg", "png", "tif", "webp", "heic", "avif"};
    return n[f];
}

const char *rt_file_format_mime(rt_file_format f)
{
    static const char *const n[] = {"image/jpeg", "image/png",  "image/tiff",
                                    "image/webp", "image/heif", "image/avif"};
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
int rt_io_loader_format(const char *loader, rt_file_format *f)
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

const char *rt_io_base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}
