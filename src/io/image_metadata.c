/* Metadata carried from the input to the outputs (image_io.h). */
#include "io/image_io_internal.h"

#include <stdlib.h>
#include <string.h>

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

void rt_metadata_grab(VipsImage *im, rt_metadata *m, int keep_icc)
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
