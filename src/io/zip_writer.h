/* ZIP output (libzip), written to "<path>.part" and renamed into place on
 * commit (core/atomic_file.h), so a reader never sees a half-written
 * archive.
 *
 * Ownership: rt_zip_open() returns a handle owned by the caller, released by
 * exactly one of rt_zip_commit() or rt_zip_abort().  Buffers passed to
 * rt_zip_add() must stay alive until then (the caller keeps owning them).
 */
#ifndef RT_IO_ZIP_WRITER_H
#define RT_IO_ZIP_WRITER_H

#include <stddef.h>

typedef struct rt_zip rt_zip;

int rt_zip_open(const char *path, rt_zip **out);
/* compress: deflate (text) or store (PNG/JPEG, already compressed). */
int rt_zip_add(rt_zip *z, const char *name, const void *data, size_t len, int compress);
int rt_zip_commit(rt_zip *z);
void rt_zip_abort(rt_zip *z);

#endif
