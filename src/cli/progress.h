/* Progress display of the CLI: a bar on a terminal, plain lines otherwise.
 * Thread-safe (several files may run at once with --jobs). */
#ifndef RT_CLI_PROGRESS_H
#define RT_CLI_PROGRESS_H

#include "retouch.h"

typedef struct cli_progress cli_progress;

/* total: number of files; quiet: print nothing but errors. */
cli_progress *cli_progress_create(int total, int quiet);
void cli_progress_destroy(cli_progress *p);

/* Per-file callback state handed to rt_job_options.progress_user. */
typedef struct cli_file_progress {
    cli_progress *owner;
    const char *name;
    int number; /* 1-based position in the batch */
    rt_step last_step;
    char last_plugin[64];
} cli_file_progress;

int cli_progress_update(void *user, rt_step step, const char *plugin, double progress);
void cli_progress_file_done(cli_progress *p, cli_file_progress *f, const char *output,
                            double seconds);
void cli_progress_file_failed(cli_progress *p, cli_file_progress *f, const char *message);
void cli_progress_message(cli_progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
