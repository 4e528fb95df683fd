/* retouch: the batch command line.
 *
 *   retouch [-p PAYLOAD.json | -p - | --preset NAME] [-o OUTPUT] [--metadata FILE]
 *           [--jobs N] INPUT...
 *
 * Exit status: 0 all went well; 2 usage or payload error (nothing processed);
 * 1 some input failed (the others are still processed).
 */
#include "cli/progress.h"
#include "core/error.h"
#include "retouch.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXIT_INPUT_FAILED 1
#define EXIT_USAGE 2

static void usage(FILE *out)
{
    fprintf(out,
            "usage: retouch [-p PAYLOAD.json | -p - | --preset NAME] [-o OUTPUT]\n"
            "               [--metadata FILE] [--jobs N] [--quiet] INPUT...\n"
            "       retouch --list-plugins\n"
            "       retouch --preset list\n"
            "       retouch [-p PAYLOAD.json | --preset NAME] --validate\n"
            "\n"
            "Retouches portraits with a task payload (the cloud API's JSON).\n"
            "\n"
            "  -p, --payload FILE      task payload JSON ('-' reads standard input)\n"
            "      --preset NAME       a shipped payload (see --preset list)\n"
            "  -o, --output PATH       one input: the output file (image, or .zip when a task\n"
            "                          has Layer 1); several inputs or a folder: a folder\n"
            "      --metadata FILE     write result.json (a folder for several inputs)\n"
            "  -j, --jobs N            images processed at once (default 1)\n"
            "      --max-megapixels N  refuse larger images (default %.0f)\n"
            "      --validate          check the payload only; print the normalised tasks\n"
            "      --list-plugins      print the plugin names\n"
            "  -q, --quiet             print errors only\n"
            "  -h, --help              this help\n"
            "\n"
            "Exit status: 0 ok, 1 some input failed, 2 usage or payload error.\n",
            RT_DEFAULT_MAX_MEGAPIXELS);
}

/* snprintf that reports truncation (a path too long is an error, never a
 * silently shortened path). */
static int fmt_path(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fmt_path(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* ---- presets ---------------------------------------------------------- */

static const char *preset_dir(char *buf, size_t cap, const char *argv0)
{
    const char *env = getenv("RETOUCH_PRESETS_DIR");
    if (env && *env) return env;
    /* next to the binary (build/ or an install prefix's bin/) */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            const char *rel[] = {"/../presets", "/../share/retouch/presets"};
            for (size_t i = 0; i < 2; i++) {
                if (fmt_path(buf, cap, "%s%s", exe, rel[i])) continue;
                struct stat st;
                if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode)) return buf;
            }
        }
    }
    (void)argv0;
    snprintf(buf, cap, "%s/presets", RT_SOURCE_DIR);
    return buf;
}

static int name_is_safe(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return 0;
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_presets(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "retouch: no presets folder at %s\n", dir);
        return EXIT_USAGE;
    }
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0)
            names[n++] = strndup(e->d_name, len - 5);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n; i++) {
        printf("%s\n", names[i]);
        free(names[i]);
    }
    return 0;
}

/* ---- files ------------------------------------------------------------ */

static char *read_stream(FILE *f, size_t limit, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) return NULL;
    for (;;) {
        if (n == cap) {
            if (cap > limit) /* over the limit: the parser reports the size */
                break;
            cap *= 2;
            char *b = realloc(buf, cap + 1);
            if (!b) {
                free(buf);
                return NULL;
            }
            buf = b;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) return NULL;
    char *s = read_stream(f, 1 << 20, len);
    if (f != stdin) fclose(f);
    return s;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int has_image_extension(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    static const char *const exts[] = {".jpg",  ".jpeg", ".jpe",  ".png",  ".tif",
                                       ".tiff", ".webp", ".heic", ".heif", NULL};
    for (int i = 0; exts[i]; i++)
        if (strcasecmp(dot, exts[i]) == 0) return 1;
    return 0;
}

typedef struct input_list {
    char **paths;
    int n, cap;
} input_list;

static int input_add(input_list *l, const char *path)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        char **p = realloc(l->paths, (size_t)cap * sizeof *p);
        if (!p) return -1;
        l->paths = p;
        l->cap = cap;
    }
    l->paths[l->n] = strdup(path);
    return l->paths[l->n++] ? 0 : -1;
}

/* Adds the images of a folder (not recursive), sorted by name. */
static int input_add_dir(input_list *l, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int first = l->n;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !has_image_extension(e->d_name)) continue;
        char path[PATH_MAX];
        if (fmt_path(path, sizeof path, "%s/%s", dir, e->d_name) == 0 && !is_dir(path))
            input_add(l, path);
    }
    closedir(d);
    qsort(l->paths + first, (size_t)(l->n - first), sizeof *l->paths, cmp_str);
    return 0;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* "photo.jpg" -> "photo" */
static void stem_of(const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "%s", base_name(path));
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = '\0';
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

/* ---- the batch -------------------------------------------------------- */

typedef struct batch {
    const rt_payload *payload;
    input_list inputs;
    const char *output;   /* file (one input) or folder */
    const char *metadata; /* file (one input) or folder */
    int out_is_dir;       /* output names a folder */
    int meta_is_dir;      /* metadata names a folder */
    int jobs;
    int threads_per_job;
    double max_mp;
    cli_progress *progress;
    pthread_mutex_t lock;
    int next;
    int failed;
    char **claimed; /* output paths already used in this batch */
} batch;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Output path for input i; a second input with the same stem keeps its own
 * extension in the name instead of overwriting the first one's result. */
static int output_path_for(batch *b, int i, const char *ext, char *out, size_t cap)
{
    const char *in = b->inputs.paths[i];
    if (!b->out_is_dir && b->output) {
        snprintf(out, cap, "%s", b->output);
        const char *dot = strrchr(out, '.');
        if (!dot ||
            (strcasecmp(dot + 1, ext) && !(!strcmp(ext, "jpg") && !strcasecmp(dot + 1, "jpeg")) &&
             !(!strcmp(ext, "tif") && !strcasecmp(dot + 1, "tiff"))))
            cli_progress_message(b->progress, "retouch: note: %s holds a %s result\n", out,
                                 !strcmp(ext, "zip") ? "ZIP (layered)" : ext);
        return 0;
    }
    char stem[PATH_MAX];
    stem_of(in, stem, sizeof stem);
    char dir[PATH_MAX];
    if (b->output) {
        snprintf(dir, sizeof dir, "%s", b->output);
    } else {
        /* default: beside the input, as <stem>_retouched.<ext> */
        snprintf(dir, sizeof dir, "%s", in);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        else
            snprintf(dir, sizeof dir, ".");
        size_t n = strlen(stem);
        snprintf(stem + n, sizeof stem - n, "_retouched");
    }
    pthread_mutex_lock(&b->lock);
    int bad = fmt_path(out, cap, "%s/%s.%s", dir, stem, ext);
    int clash = 0;
    for (int k = 0; k < b->inputs.n; k++)
        if (b->claimed[k] && strcmp(b->claimed[k], out) == 0) clash = 1;
    if (!bad && (clash || same_file(out, in)))
        bad = fmt_path(out, cap, "%s/%s.%s", dir, base_name(in), ext);
    if (!bad) b->claimed[i] = strdup(out);
    pthread_mutex_unlock(&b->lock);
    return bad ? rt_error(RT_ERR_ARG, "the output path for %s is too long", in) : 0;
}

static int metadata_path_for(batch *b, int i, char *out, size_t cap)
{
    if (!b->meta_is_dir) {
        snprintf(out, cap, "%s", b->metadata);
        return 0;
    }
    char stem[PATH_MAX];
    stem_of(b->inputs.paths[i], stem, sizeof stem);
    if (fmt_path(out, cap, "%s/%s.json", b->metadata, stem))
        return rt_error(RT_ERR_ARG, "the metadata path for %s is too long", b->inputs.paths[i]);
    return 0;
}

static int process_one(batch *b, int i)
{
    const char *in = b->inputs.paths[i];
    cli_file_progress fp = {
        .owner = b->progress, .name = base_name(in), .number = i + 1, .last_step = (rt_step)-1};
    rt_job_options opt = {.max_megapixels = b->max_mp,
                          .threads = b->threads_per_job,
                          .input_name = base_name(in),
                          .progress = cli_progress_update,
                          .progress_user = &fp};
    double t0 = now_seconds();
    rt_job *job = NULL;
    char out[PATH_MAX], meta[PATH_MAX];
    int err = rt_job_create(b->payload, &opt, &job);
    if (!err) err = rt_job_run(job, in);
    if (!err) err = output_path_for(b, i, rt_job_output_extension(job), out, sizeof out);
    if (!err && same_file(out, in))
        err = rt_error(RT_ERR_ARG, "%s: refusing to overwrite the input with the result", in);
    if (!err) err = rt_job_write(job, out);
    if (!err && b->metadata) err = metadata_path_for(b, i, meta, sizeof meta);
    if (!err && b->metadata) err = rt_job_write_metadata(job, meta);
    if (err)
        cli_progress_file_failed(b->progress, &fp, rt_last_error());
    else
        cli_progress_file_done(b->progress, &fp, out, now_seconds() - t0);
    rt_job_destroy(job);
    return err;
}

static void *worker(void *arg)
{
    batch *b = arg;
    for (;;) {
        pthread_mutex_lock(&b->lock);
        int i = b->next++;
        pthread_mutex_unlock(&b->lock);
        if (i >= b->inputs.n) break;
        if (process_one(b, i)) {
            pthread_mutex_lock(&b->lock);
            b->failed++;
            pthread_mutex_unlock(&b->lock);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *payload_path = NULL, *preset = NULL, *output = NULL, *metadata = NULL;
    int jobs = 1, quiet = 0, validate = 0, list_plugins = 0;
    double max_mp = 0;
    enum { OPT_PRESET = 1000, OPT_METADATA, OPT_VALIDATE, OPT_LIST, OPT_MAXMP };
    static const struct option longopts[] = {{"payload", required_argument, 0, 'p'},
                                             {"preset", required_argument, 0, OPT_PRESET},
                                             {"output", required_argument, 0, 'o'},
                                             {"metadata", required_argument, 0, OPT_METADATA},
                                             {"jobs", required_argument, 0, 'j'},
                                             {"max-megapixels", required_argument, 0, OPT_MAXMP},
                                             {"validate", no_argument, 0, OPT_VALIDATE},
                                             {"list-plugins", no_argument, 0, OPT_LIST},
                                             {"quiet", no_argument, 0, 'q'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "p:o:j:qh", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'p':
            payload_path = optarg;
            break;
        case OPT_PRESET:
            preset = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case OPT_METADATA:
            metadata = optarg;
            break;
        case 'j':
            jobs = (int)strtol(optarg, &end, 10);
            if (*end || jobs < 1 || jobs > 64) {
                fprintf(stderr, "retouch: --jobs %s: use a number from 1 to 64\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_MAXMP:
            max_mp = strtod(optarg, &end);
            if (*end || !(max_mp > 0)) {
                fprintf(stderr, "retouch: --max-megapixels %s: use a positive number\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_VALIDATE:
            validate = 1;
            break;
        case OPT_LIST:
            list_plugins = 1;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (rt_init(argv[0])) {
        fprintf(stderr, "retouch: %s\n", rt_last_error());
        return EXIT_USAGE;
    }
    if (list_plugins) {
        for (size_t i = 0; i < rt_plugin_count(); i++)
            printf("%s\n", rt_plugin_name(i));
        return 0;
    }
    char dirbuf[PATH_MAX];
    const char *pdir = preset_dir(dirbuf, sizeof dirbuf, argv[0]);
    if (preset && strcmp(preset, "list") == 0) return list_presets(pdir);
    if (payload_path && preset) {
        fprintf(stderr, "retouch: give either -p PAYLOAD or --preset NAME, not both\n");
        return EXIT_USAGE;
    }
    if (!payload_path && !preset) {
        fprintf(stderr, "retouch: no payload: give -p PAYLOAD.json, -p - or --preset NAME "
                        "(retouch --preset list shows the presets)\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    char preset_path[PATH_MAX];
    if (preset) {
        if (!name_is_safe(preset)) {
            fprintf(stderr, "retouch: --preset %s: not a preset name (see --preset list)\n",
                    preset);
            return EXIT_USAGE;
        }
        if (fmt_path(preset_path, sizeof preset_path, "%s/%s.json", pdir, preset)) {
            fprintf(stderr, "retouch: the presets folder path is too long\n");
            return EXIT_USAGE;
        }
        payload_path = preset_path;
    }
    size_t len = 0;
    char *json = read_file(payload_path, &len);
    if (!json) {
        if (preset)
            fprintf(stderr, "retouch: unknown preset '%s' (retouch --preset list shows them)\n",
                    preset);
        else
            fprintf(stderr, "retouch: cannot read the payload %s: %s\n", payload_path,
                    strerror(errno));
        return EXIT_USAGE;
    }
    rt_payload *payload = NULL;
    int err = rt_payload_parse(json, len, &payload);
    free(json);
    if (err) {
        fprintf(stderr, "retouch: invalid payload (%s): %s\n", preset ? preset : payload_path,
                rt_last_error());
        return EXIT_USAGE;
    }
    if (validate) {
        char *s = rt_payload_normalized_json(payload);
        printf("%s\n", s ? s : "{}");
        free(s);
        rt_payload_destroy(payload);
        return 0;
    }

    batch b = {
        .payload = payload, .output = output, .metadata = metadata, .jobs = jobs, .max_mp = max_mp};
    pthread_mutex_init(&b.lock, NULL);
    int rc = 0;
    int folder_input = 0;
    for (int i = optind; i < argc; i++) {
        if (is_dir(argv[i])) {
            folder_input = 1;
            if (input_add_dir(&b.inputs, argv[i]) != 0) {
                fprintf(stderr, "retouch: cannot read the folder %s\n", argv[i]);
                rc = EXIT_USAGE;
            }
        } else {
            input_add(&b.inputs, argv[i]);
        }
    }
    if (rc == 0 && b.inputs.n == 0) {
        fprintf(stderr, "retouch: no input images%s\n",
                folder_input ? " (the folder holds no JPEG/PNG/TIFF/WebP/HEIF files)" : "");
        usage(stderr);
        rc = EXIT_USAGE;
    }
    /* One input file: -o and --metadata are files, unless they name existing
     * folders.  Several inputs or a folder: both are folders. */
    int one = b.inputs.n == 1 && !folder_input;
    b.out_is_dir = !one || (output && is_dir(output));
    b.meta_is_dir = !one || (metadata && is_dir(metadata));
    if (rc == 0 && output && b.out_is_dir && mkdir_p(output) != 0) {
        fprintf(stderr, "retouch: -o %s: cannot create the output folder: %s\n", output,
                strerror(errno));
        rc = EXIT_USAGE;
    }
    if (rc == 0 && metadata && b.meta_is_dir && mkdir_p(metadata) != 0) {
        fprintf(stderr, "retouch: --metadata %s: cannot create the folder: %s\n", metadata,
                strerror(errno));
        rc = EXIT_USAGE;
    }
    if (rc) {
        rt_payload_destroy(payload);
        for (int i = 0; i < b.inputs.n; i++)
            free(b.inputs.paths[i]);
        free(b.inputs.paths);
        return rc;
    }
    if (b.jobs > b.inputs.n) b.jobs = b.inputs.n;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    b.threads_per_job = (int)(cores / b.jobs);
    if (b.threads_per_job < 1) b.threads_per_job = 1;
    b.claimed = calloc((size_t)b.inputs.n, sizeof *b.claimed);
    b.progress = cli_progress_create(b.inputs.n, quiet);

    pthread_t threads[64];
    for (int i = 0; i < b.jobs; i++)
        pthread_create(&threads[i], NULL, worker, &b);
    for (int i = 0; i < b.jobs; i++)
        pthread_join(threads[i], NULL);

    cli_progress_destroy(b.progress);
    if (!quiet && b.inputs.n > 1)
        fprintf(stderr, "%d of %d images done%s\n", b.inputs.n - b.failed, b.inputs.n,
                b.failed ? ", see the errors above" : "");
    int failed = b.failed;
    for (int i = 0; i < b.inputs.n; i++) {
        free(b.inputs.paths[i]);
        free(b.claimed[i]);
    }
    free(b.claimed);
    free(b.inputs.paths);
    pthread_mutex_destroy(&b.lock);
    rt_payload_destroy(payload);
    return failed ? EXIT_INPUT_FAILED : 0;
}
