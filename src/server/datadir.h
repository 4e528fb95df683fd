/* datadir.h: the layout of the data directory.
 *
 *   DIR/retouchd.db         the job store (SQLite, WAL)
 *   DIR/retouchd.key        seals the webhook secrets in the store (crypto.h)
 *   DIR/retouchd.lock       held by the serving process
 *   DIR/spool/              uploads being received (<random>.upload)
 *   DIR/jobs/<id>/input     an accepted job's image
 *   DIR/jobs/<id>/result.*  its result and result.json
 *
 * DIR is 0700 and everything in it 0600: photos, job ids and secrets are
 * the operator's alone.  Every name under DIR is chosen by the server: job ids are base64url, and
 * the client's file name is never part of a path.
 */
#ifndef RD_DATADIR_H
#define RD_DATADIR_H

#include <stddef.h>

/* Creates DIR (0700), DIR/spool and DIR/jobs when missing.  RT_ERR_IO,
 * naming the chmod to run, when DIR is open to other users: it holds the
 * store and every photo. */
int rd_datadir_init(const char *dir);
/* Creates the store file 0600 when missing and makes the store and its
 * -wal, -shm files 0600 when an older version left them wider. */
int rd_datadir_private_db(const char *dir);

/* Path builders: RT_ERR_ARG when the result does not fit in cap. */
int rd_datadir_db(const char *dir, char *out, size_t cap);
int rd_datadir_spool(const char *dir, char *out, size_t cap);
int rd_datadir_jobs(const char *dir, char *out, size_t cap);
int rd_datadir_job(const char *dir, const char *id, char *out, size_t cap);
/* DIR/jobs/<id>/<name> */
int rd_datadir_job_file(const char *dir, const char *id, const char *name, char *out, size_t cap);

/* Takes DIR/retouchd.lock for this process (released when it exits, even by
 * kill -9).  RT_ERR_IO when another process serves the directory: two
 * servers would each take the other's running jobs for dead ones.  *fd
 * stays open for the life of the server. */
int rd_datadir_lock(const char *dir, int *fd);

/* Flushes a file or folder to disk (fsync), so what the store records as
 * done is on disk too, power cut or not. */
int rd_datadir_sync(const char *path);

/* Deletes a job folder and the files in it (it holds no sub-folders). */
int rd_datadir_remove_job(const char *dir, const char *id);
/* Deletes every file in DIR/spool (uploads cut off by a restart). */
int rd_datadir_clear_spool(const char *dir);

#endif
