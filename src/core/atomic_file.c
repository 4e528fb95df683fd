#include "core/atomic_file.h"

#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *rt_part_path(const char *path)
{
    size_t n = strlen(path) + 6;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s.part", path);
    return p;
}

/* Messages name the file, not its directory (a job's holds its id). */
static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* The rename itself reaches the disk with its directory: best effort, as
 * some file systems cannot fsync a directory. */
static void sync_directory(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if ((size_t)(slash - path) < sizeof dir)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path ? slash - path : 1), path);
    else
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int rt_commit_part(const char *part, const char *path)
{
    int fd = open(part, O_RDONLY | O_CLOEXEC);
    int bad = fd < 0 || fsync(fd) != 0;
    int why = errno;
    if (fd >= 0) close(fd);
    if (!bad && rename(part, path) != 0) {
        bad = 1;
        why = errno;
    }
    if (bad) {
        unlink(part);
        return rt_error(RT_ERR_IO, "cannot write %s: %s", base_name(path), strerror(why));
    }
    sync_directory(path);
    return 0;
}

int rt_write_file_atomic(const char *path, const void *data, size_t len)
{
    char *part = rt_part_path(path);
    if (!part) return rt_error(RT_ERR_NOMEM, "out of memory");
    int fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        int why = errno;
        free(part);
        return rt_error(RT_ERR_IO, "cannot write %s: %s", base_name(path), strerror(why));
    }
    const char *p = data;
    size_t left = len;
    int why = 0;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            why = n < 0 ? errno : EIO;
            break;
        }
        p += n;
        left -= (size_t)n;
    }
    if (close(fd) != 0 && !why) why = errno;
    if (why) {
        unlink(part);
        free(part);
        return rt_error(RT_ERR_IO, "cannot write %s: %s", base_name(path), strerror(why));
    }
    int err = rt_commit_part(part, path);
    free(part);
    return err;
}
