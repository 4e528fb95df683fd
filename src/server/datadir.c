/* The data directory layout (see datadir.h). */
#include "server/datadir.h"

#include "core/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int path_fmt(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int path_fmt(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap)
        return rt_error(RT_ERR_ARG, "the data directory path is too long");
    return 0;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return rt_error(RT_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return rt_error(RT_ERR_IO, "%s exists and is not a folder", path);
    return 0;
}

int rd_datadir_init(const char *dir)
{
    char path[4096];
    int err = make_dir(dir);
    struct stat st;
    if (!err && stat(dir, &st) == 0 && (st.st_mode & S_IRWXO))
        return rt_error(RT_ERR_IO,
                        "the data directory %s is open to every local user (mode %03o), and it "
                        "holds the job store, webhook secrets and every photo; run "
                        "'chmod 700 %s' and start again",
                        dir, (unsigned)(st.st_mode & 0777), dir);
    if (!err && !(err = rd_datadir_spool(dir, path, sizeof path))) err = make_dir(path);
    if (!err && !(err = rd_datadir_jobs(dir, path, sizeof path))) err = make_dir(path);
    return err;
}

int rd_datadir_db(const char *dir, char *out, size_t cap)
{
    return path_fmt(out, cap, "%s/retouchd.db", dir);
}

int rd_datadir_private_db(const char *dir)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    char db[4096], path[4200];
    int err = rd_datadir_db(dir, db, sizeof db);
    if (err) return err;
    /* Created 0600 before SQLite opens it: SQLite gives the -wal and -shm
     * files the mode of the database. */
    int fd = open(db, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return rt_error(RT_ERR_IO, "cannot open %s: %s", db, strerror(errno));
    close(fd);
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        snprintf(path, sizeof path, "%s%s", db, suffixes[i]);
        struct stat st;
        /* Stores made by older versions were 0644. */
        if (stat(path, &st) == 0 && (st.st_mode & 077) && chmod(path, 0600) != 0)
            return rt_error(RT_ERR_IO, "cannot make %s private (chmod 600): %s", path,
                            strerror(errno));
    }
    return 0;
}

int rd_datadir_spool(const char *dir, char *out, size_t cap)
{
    return path_fmt(out, cap, "%s/spool", dir);
}

int rd_datadir_jobs(const char *dir, char *out, size_t cap)
{
    return path_fmt(out, cap, "%s/jobs", dir);
}

int rd_datadir_job(const char *dir, const char *id, char *out, size_t cap)
{
    return path_fmt(out, cap, "%s/jobs/%s", dir, id);
}

int rd_datadir_job_file(const char *dir, const char *id, const char *name, char *out, size_t cap)
{
    return path_fmt(out, cap, "%s/jobs/%s/%s", dir, id, name);
}

int rd_datadir_lock(const char *dir, int *fd)
{
    char path[4096];
    int err = path_fmt(path, sizeof path, "%s/retouchd.lock", dir);
    if (err) return err;
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (*fd < 0) return rt_error(RT_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        close(*fd);
        *fd = -1;
        return rt_error(RT_ERR_IO,
                        "another retouchd already serves %s; stop it first, or give "
                        "this one its own --data-dir",
                        dir);
    }
    return 0;
}

int rd_datadir_sync(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return rt_error(RT_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    int err =
        fsync(fd) == 0 ? 0 : rt_error(RT_ERR_IO, "cannot flush %s: %s", path, strerror(errno));
    close(fd);
    return err;
}

/* Deletes the plain files of folder, then the folder when remove_self. */
static int clear_folder(const char *folder, int remove_self)
{
    DIR *d = opendir(folder);
    if (!d)
        return errno == ENOENT ? 0
                               : rt_error(RT_ERR_IO, "cannot open %s: %s", folder, strerror(errno));
    int err = 0;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (path_fmt(path, sizeof path, "%s/%s", folder, e->d_name) == 0 && unlink(path) != 0 &&
            errno != ENOENT)
            err = rt_error(RT_ERR_IO, "cannot delete %s: %s", path, strerror(errno));
    }
    closedir(d);
    if (remove_self && rmdir(folder) != 0 && errno != ENOENT)
        err = rt_error(RT_ERR_IO, "cannot delete %s: %s", folder, strerror(errno));
    return err;
}

int rd_datadir_remove_job(const char *dir, const char *id)
{
    char path[4096];
    int err = rd_datadir_job(dir, id, path, sizeof path);
    return err ? err : clear_folder(path, 1);
}

int rd_datadir_clear_spool(const char *dir)
{
    char path[4096];
    int err = rd_datadir_spool(dir, path, sizeof path);
    return err ? err : clear_folder(path, 0);
}
