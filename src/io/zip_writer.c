#include "io/zip_writer.h"

#include "core/atomic_file.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

struct rt_zip {
    zip_t *za;
    char *path;
    char *part;
};

int rt_zip_open(const char *path, rt_zip **out)
{
    *out = NULL;
    rt_zip *z = calloc(1, sizeof *z);
    if (!z || !(z->path = strdup(path)) || !(z->part = rt_part_path(path))) {
        if (z) free(z->path);
        free(z);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    int zerr = 0;
    z->za = zip_open(z->part, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    if (!z->za) {
        zip_error_t e;
        zip_error_init_with_code(&e, zerr);
        int r = rt_error(RT_ERR_IO, "cannot create %s: %s", path, zip_error_strerror(&e));
        zip_error_fini(&e);
        free(z->part);
        free(z->path);
        free(z);
        return r;
    }
    *out = z;
    return 0;
}

int rt_zip_add(rt_zip *z, const char *name, const void *data, size_t len, int compress)
{
    zip_source_t *src = zip_source_buffer(z->za, data, len, 0);
    if (!src) return rt_error(RT_ERR_INTERNAL, "zip: %s", zip_strerror(z->za));
    zip_int64_t idx = zip_file_add(z->za, name, src, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE);
    if (idx < 0) {
        zip_source_free(src);
        return rt_error(RT_ERR_INTERNAL, "zip: cannot add %s: %s", name, zip_strerror(z->za));
    }
    zip_set_file_compression(z->za, (zip_uint64_t)idx, compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE,
                             compress ? 6 : 0);
    return 0;
}

int rt_zip_commit(rt_zip *z)
{
    int err = 0;
    if (zip_close(z->za) != 0) {
        err = rt_error(RT_ERR_IO, "cannot write %s: %s", z->path, zip_strerror(z->za));
        zip_discard(z->za);
        unlink(z->part);
    } else {
        err = rt_commit_part(z->part, z->path);
    }
    free(z->part);
    free(z->path);
    free(z);
    return err;
}

void rt_zip_abort(rt_zip *z)
{
    if (!z) return;
    zip_discard(z->za);
    unlink(z->part);
    free(z->part);
    free(z->path);
    free(z);
}
