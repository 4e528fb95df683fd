/* Files that appear whole or not at all: written to "<path>.part", flushed
 * to disk (fsync), then renamed over <path>; on failure the .part file is
 * removed and <path> is left as it was.  The one implementation of that
 * sequence: outputs (image_io.h rt_encode_file, the ZIP writer) and
 * result.json use it, so their callers need no .part of their own.
 */
#ifndef RT_CORE_ATOMIC_FILE_H
#define RT_CORE_ATOMIC_FILE_H

#include <stddef.h>

/* "<path>.part"; malloc'd, the caller frees it (NULL when out of memory). */
char *rt_part_path(const char *path);

/* Writes len bytes to path atomically.  0, or RT_ERR_IO / RT_ERR_NOMEM. */
int rt_write_file_atomic(const char *path, const void *data, size_t len);

/* Finishes an atomic write whose bytes are already in part (written by a
 * library that takes a file name): fsync, rename to path.  On failure part
 * is removed.  0, or RT_ERR_IO naming path's base name. */
int rt_commit_part(const char *part, const char *path);

#endif
