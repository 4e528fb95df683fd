#include "cli/progress.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cli_progress {
    pthread_mutex_t lock;
    int total, done, failed;
    int quiet;
    int tty;
    int bar_shown;
};

cli_progress *cli_progress_create(int total, int quiet)
{
    cli_progress *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->lock, NULL);
    p->total = total;
    p->quiet = quiet;
    p->tty = isatty(STDERR_FILENO);
    return p;
}

void cli_progress_destroy(cli_progress *p)
{
    if (!p) return;
    if (p->bar_shown) fputc('\n', stderr);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static void clear_bar(cli_progress *p)
{
    if (p->bar_shown) {
        fputs("\r\033[K", stderr);
        p->bar_shown = 0;
    }
}

static void draw_bar(cli_progress *p, const cli_file_progress *f, double progress, const char *what)
{
    char bar[31];
    int filled = (int)(progress * 30.0 + 0.5);
    for (int i = 0; i < 30; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r\033[K[%d/%d] %.40s [%s] %3d%% %s", f->number, p->total, f->name, bar,
            (int)(progress * 100.0), what);
    fflush(stderr);
    p->bar_shown = 1;
}

int cli_progress_update(void *user, rt_step step, const char *plugin, double progress)
{
    cli_file_progress *f = user;
    cli_progress *p = f->owner;
    if (p->quiet) return 0;
    pthread_mutex_lock(&p->lock);
    const char *what = plugin && *plugin ? plugin : rt_step_name(step);
    if (p->tty) {
        draw_bar(p, f, progress, what);
    } else if (plugin && *plugin ? strcmp(f->last_plugin, plugin) != 0 : step != f->last_step) {
        /* a line per plugin, and per step outside the plugins: a plugin's
         * analysis and processing steps are one line */
        fprintf(stderr, "[%d/%d] %s: %s\n", f->number, p->total, f->name, what);
    }
    f->last_step = step;
    snprintf(f->last_plugin, sizeof f->last_plugin, "%s", plugin ? plugin : "");
    pthread_mutex_unlock(&p->lock);
    return 0;
}

void cli_progress_file_done(cli_progress *p, cli_file_progress *f, const char *output,
                            double seconds)
{
    pthread_mutex_lock(&p->lock);
    p->done++;
    if (!p->quiet) {
        clear_bar(p);
        fprintf(stderr, "[%d/%d] %s -> %s (%.2f s)\n", f->number, p->total, f->name, output,
                seconds);
    }
    pthread_mutex_unlock(&p->lock);
}

void cli_progress_file_failed(cli_progress *p, cli_file_progress *f, const char *message)
{
    pthread_mutex_lock(&p->lock);
    p->failed++;
    clear_bar(p);
    fprintf(stderr, "[%d/%d] %s: error: %s\n", f->number, p->total, f->name, message);
    pthread_mutex_unlock(&p->lock);
}

void cli_progress_message(cli_progress *p, const char *fmt, ...)
{
    pthread_mutex_lock(&p->lock);
    clear_bar(p);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&p->lock);
}
