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
#include "payload/payload.h"
#include "retouch.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <glib.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
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
            "  -o, --output PATH       one input: the output file; its extension picks the\n"
            "                          format (.jpg .png .tif .webp .heic .avif; .zip when\n"
            "                          a task has Layer 1); several inputs or a folder: a\n"
            "                          folder\n"
            "      --metadata FILE     write result.json (a folder for several inputs)\n"
            "  -j, --jobs N            images processed at once (default 1)\n"
            "      --max-megapixels N  refuse larger images (default %.0f)\n"
            "      --cmyk-profile P    how to read CMYK photos without an ICC profile:\n"
            "                          press (default, libvips's built-in), naive (plain\n"
            "                          inversion), or an ICC profile file\n"
            "      --validate          check the payload only; print the normalised tasks\n"
            "      --list-plugins      print the plugin names and which are implemented\n"
            "  -q, --quiet             print errors only\n"
            "  -h, --help              this help\n"
            "\n"
            "Without -o the result goes beside the input as NAME_retouched.EXT; a folder\n"
            "input skips the files an earlier run wrote there.\n"
            "Exit status: 0 ok, 1 some input failed, 2 usage or payload error.\n"
            "Payload and outputs: docs/API.md; plugins and parameters: docs/PLUGINS.md.\n",
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

static char *read_file(const char *path, size_t *len);

/* One line about a payload: its tasks, with the choices and sliders given,
 * and what comes out ("Color Correction (Full), Crop (AI); ZIP of layers"). */
static void describe_payload(const rt_payload *p, char *out, size_t cap)
{
    static const char *const aspect_names[] = {"Original", "Free", "Square", "Custom"};
    size_t used = 0;
    out[0] = '\0';
#define APPEND(...)                                                                                \
    do {                                                                                           \
        if (used < cap) used += (size_t)snprintf(out + used, cap - used, __VA_ARGS__);             \
    } while (0)
    for (size_t i = 0; i < p->ntasks; i++) {
        const rt_task *t = &p->tasks[i];
        APPEND("%s%s", i ? ", " : "", t->spec->name);
        int shown = 0;
        for (size_t f = 0; f < t->spec->nfields; f++) {
            const rt_field_spec *fs = &t->spec->fields[f];
            const rt_field_value *v = &t->values[f];
            if (!v->given || fs->type == RT_FIELD_BOOL) continue;
            APPEND("%s", shown++ ? ", " : " (");
            if (fs->type == RT_FIELD_CHOICE)
                APPEND("%s", fs->choices[(int)v->num]);
            else if (fs->type == RT_FIELD_ASPECT && v->num >= RT_ASPECT_RATIO)
                APPEND("%.3g : 1", v->ratio);
            else if (fs->type == RT_FIELD_ASPECT)
                APPEND("%s", aspect_names[(int)v->num]);
            else
                APPEND("%s %g", fs->label, v->num);
        }
        if (shown) APPEND(")");
        if (t->layer) APPEND(" as a layer");
    }
    APPEND("; %s", rt_payload_is_layered(p) ? "ZIP of layers" : "one image");
#undef APPEND
    if (used >= cap && cap > 4) strcpy(out + cap - 4, "...");
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
        char path[PATH_MAX], about[512] = "cannot be read";
        size_t len = 0;
        char *json =
            fmt_path(path, sizeof path, "%s/%s.json", dir, names[i]) ? NULL : read_file(path, &len);
        rt_payload *p = NULL;
        if (json && rt_payload_parse(json, len, &p) == 0) {
            describe_payload(p, about, sizeof about);
            rt_payload_destroy(p);
        } else if (json) {
            snprintf(about, sizeof about, "invalid: %s", rt_last_error());
        }
        free(json);
        printf("%-12s %s\n", names[i], about);
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

/* The extension of a path's last component, lower case ("" when none). */
static void extension_of(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    const char *dot = strrchr(name, '.');
    out[0] = '\0';
    if (!dot || dot == name) return;
    size_t i = 0;
    for (dot++; *dot && i + 1 < cap; dot++)
        out[i++] = (char)tolower((unsigned char)*dot);
    out[i] = '\0';
}

/* Image extensions: the format each one names, and the extension the
 * engine writes for it. */
static const struct {
    const char *ext, *format, *canonical;
} image_exts[] = {{"jpg", "jpeg", "jpg"},   {"jpeg", "jpeg", "jpg"},  {"jpe", "jpeg", "jpg"},
                  {"png", "png", "png"},    {"tif", "tiff", "tif"},   {"tiff", "tiff", "tif"},
                  {"webp", "webp", "webp"}, {"heic", "heif", "heic"}, {"heif", "heif", "heic"},
                  {"avif", "avif", "avif"}};

static int image_ext_index(const char *ext)
{
    for (size_t i = 0; i < sizeof image_exts / sizeof image_exts[0]; i++)
        if (strcmp(ext, image_exts[i].ext) == 0) return (int)i;
    return -1;
}

static int has_image_extension(const char *name)
{
    char ext[16];
    extension_of(name, ext, sizeof ext);
    return image_ext_index(ext) >= 0;
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
    if (!l->paths[l->n]) return -1;
    l->n++;
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

/* The mark the CLI leaves on what it writes (an extended attribute), so that
 * a folder run again does not take its own results for new photos. */
#define OUTPUT_MARK_NAME "user.retouch.output"

static void mark_output(const char *path)
{
    static const char value[] = "written by retouch";
    /* best effort: a file system without user attributes keeps the name rule */
    (void)setxattr(path, OUTPUT_MARK_NAME, value, sizeof value - 1, 0);
}

/* Why a folder entry is a result of an earlier run, or NULL. */
static const char *earlier_output(const char *path)
{
    char stem[PATH_MAX];
    stem_of(path, stem, sizeof stem);
    /* NAME_retouched and NAME_retouched-2 (the default output names) */
    char *mark = strstr(stem, "_retouched");
    if (mark) {
        const char *rest = mark + strlen("_retouched");
        if (*rest == '-') {
            rest++;
            while (*rest >= '0' && *rest <= '9')
                rest++;
        }
        if (!*rest) return "its name ends in _retouched";
    }
    if (getxattr(path, OUTPUT_MARK_NAME, NULL, 0) >= 0) return "it carries retouch's output mark";
    return NULL;
}

/* Adds the images of a folder (not recursive), sorted by name, skipping the
 * results of earlier runs; *skipped counts those. */
static int input_add_dir(input_list *l, const char *dir, int quiet, int *skipped)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int first = l->n;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !has_image_extension(e->d_name)) continue;
        char path[PATH_MAX];
        if (fmt_path(path, sizeof path, "%s/%s", dir, e->d_name) != 0 || is_dir(path)) continue;
        const char *why = earlier_output(path);
        if (why) {
            if (!quiet)
                fprintf(stderr,
                        "retouch: skipping %s: written by retouch (%s); name it alone to "
                        "process it again\n",
                        path, why);
            (*skipped)++;
            continue;
        }
        input_add(l, path);
    }
    closedir(d);
    qsort(l->paths + first, (size_t)(l->n - first), sizeof *l->paths, cmp_str);
    return 0;
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

/* The folder a file path goes into must exist and be writable: checked
 * before any work, so that a long batch never fails at its last step. */
static int check_parent_folder(const char *option, const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    struct stat st;
    if (stat(dir, &st) != 0) {
        fprintf(stderr,
                "retouch: %s %s: the folder %s does not exist; create it first (mkdir -p %s)\n",
                option, path, dir, dir);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "retouch: %s %s: %s is not a folder\n", option, path, dir);
        return -1;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        fprintf(stderr, "retouch: %s %s: cannot write into the folder %s: %s\n", option, path, dir,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* Checks an input before any decoding, so that the message says why it
 * cannot be used: missing, unreadable (with the system's reason), empty, or
 * over the megapixel limit (with the limit as given). */
static int check_input(const char *path, double max_mp)
{
    const char *name = base_name(path);
    struct stat st;
    if (stat(path, &st) != 0)
        return rt_error(RT_ERR_IO, "%s: cannot read the file: %s", name, strerror(errno));
    if (S_ISDIR(st.st_mode)) return rt_error(RT_ERR_ARG, "%s: is a folder, not an image", name);
    if (!S_ISREG(st.st_mode)) return rt_error(RT_ERR_ARG, "%s: not a regular file", name);
    FILE *f = fopen(path, "rb");
    if (!f) return rt_error(RT_ERR_IO, "%s: cannot read the file: %s", name, strerror(errno));
    fclose(f);
    if (st.st_size == 0) return rt_error(RT_ERR_IMAGE, "%s: the file is empty (0 bytes)", name);
    rt_image_info info;
    /* the header only; the limit is checked here to say it as given */
    int err = rt_probe_image(path, 1e12, &info);
    if (err) return err;
    double limit = max_mp > 0 ? max_mp : RT_DEFAULT_MAX_MEGAPIXELS;
    double mp = (double)info.width * info.height / 1e6;
    if (mp > limit)
        return rt_error(RT_ERR_TOO_BIG,
                        "%s: the image is %dx%d = %.3g megapixels, over the limit of %g megapixels "
                        "(--max-megapixels)",
                        name, info.width, info.height, mp, limit);
    return 0;
}

/* ---- the batch -------------------------------------------------------- */

typedef struct batch {
    const rt_payload *payload;
    input_list inputs;
    const char *output;        /* file (one input) or folder */
    const char *metadata;      /* file (one input) or folder */
    const char *output_format; /* forced by -o's extension, or NULL */
    const char *cmyk_profile;  /* --cmyk-profile, or NULL */
    int out_is_dir;            /* output names a folder */
    int meta_is_dir;           /* metadata names a folder */
    int jobs;
    int quiet;
    int threads_per_job;
    double max_mp;
    cli_progress *progress;
    pthread_mutex_t lock;
    int next;
    int failed;
    char **planned; /* per input: output path without extension (folder mode) */
    char **planned_ext;
    char **claimed; /* output paths in use in this batch */
} batch;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The extension the engine will most likely write for input i: the payload's
 * format, else the input's own (the result is checked after the run). */
static const char *predicted_ext(const rt_payload *p, const char *input)
{
    static const char *const by_format[] = {NULL, "jpg", "png", "tif", "zip"};
    if (rt_payload_is_layered(p)) return "zip";
    if (p->output_format != RT_OUTPUT_SAME) return by_format[p->output_format];
    char ext[16];
    extension_of(input, ext, sizeof ext);
    int i = image_ext_index(ext);
    return i >= 0 ? image_exts[i].canonical : "jpg";
}

static int path_claimed(batch *b, const char *path, int upto)
{
    for (int k = 0; k < upto; k++)
        if (b->claimed[k] && strcmp(b->claimed[k], path) == 0) return 1;
    return 0;
}

static int path_is_an_input(batch *b, const char *path)
{
    for (int k = 0; k < b->inputs.n; k++)
        if (strcmp(b->inputs.paths[k], path) == 0 || same_file(b->inputs.paths[k], path)) return 1;
    return 0;
}

/* Folder mode: every input's output name, decided before any work and in
 * input order (the same names whatever --jobs does).  Two inputs with the
 * same name give NAME.jpg and NAME-2.jpg, never NAME.jpg.jpg; an output that
 * would replace an input is renamed the same way. */
static int plan_outputs(batch *b, int quiet)
{
    b->planned = calloc((size_t)b->inputs.n, sizeof *b->planned);
    b->planned_ext = calloc((size_t)b->inputs.n, sizeof *b->planned_ext);
    if (!b->planned || !b->planned_ext) return -1;
    for (int i = 0; i < b->inputs.n; i++) {
        const char *in = b->inputs.paths[i];
        char stem[PATH_MAX], dir[PATH_MAX], base[PATH_MAX], path[PATH_MAX];
        stem_of(in, stem, sizeof stem);
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
        const char *ext = predicted_ext(b->payload, in);
        if (fmt_path(base, sizeof base, "%s/%s", dir, stem) ||
            fmt_path(path, sizeof path, "%s.%s", base, ext)) {
            fprintf(stderr, "retouch: the output path for %s is too long\n", in);
            return -1;
        }
        int taken_by = -1;
        for (int k = 0; k < i; k++)
            if (b->claimed[k] && strcmp(b->claimed[k], path) == 0) taken_by = k;
        int suffix = 1;
        while (path_claimed(b, path, i) || path_is_an_input(b, path)) {
            suffix++;
            if (fmt_path(path, sizeof path, "%s/%s-%d.%s", dir, stem, suffix, ext)) {
                fprintf(stderr, "retouch: the output path for %s is too long\n", in);
                return -1;
            }
        }
        if (suffix > 1) {
            snprintf(base + strlen(base), sizeof base - strlen(base), "-%d", suffix);
            if (!quiet)
                fprintf(stderr, "retouch: note: %s -> %s (%s)\n", in, path,
                        taken_by >= 0 ? "the plain name is taken by another input's result"
                                      : "the plain name is an input");
        }
        b->planned[i] = strdup(base);
        b->planned_ext[i] = strdup(ext);
        b->claimed[i] = strdup(path);
        if (!b->planned[i] || !b->planned_ext[i] || !b->claimed[i]) return -1;
    }
    return 0;
}

/* Output path for input i, now that the engine says which extension. */
static int output_path_for(batch *b, int i, const char *ext, char *out, size_t cap)
{
    if (!b->out_is_dir && b->output) {
        snprintf(out, cap, "%s", b->output);
        return 0;
    }
    if (strcmp(ext, b->planned_ext[i]) == 0) {
        snprintf(out, cap, "%s", b->claimed[i]);
        return 0;
    }
    /* the engine chose another format than planned (a HEIF it cannot write) */
    pthread_mutex_lock(&b->lock);
    int bad = fmt_path(out, cap, "%s.%s", b->planned[i], ext);
    for (int suffix = 2; !bad && (path_claimed(b, out, b->inputs.n) || path_is_an_input(b, out));
         suffix++)
        bad = fmt_path(out, cap, "%s-%d.%s", b->planned[i], suffix, ext);
    if (!bad) {
        free(b->claimed[i]);
        b->claimed[i] = strdup(out);
    }
    pthread_mutex_unlock(&b->lock);
    return bad ? rt_error(RT_ERR_ARG, "the output path for %s is too long", b->inputs.paths[i]) : 0;
}

static int metadata_path_for(batch *b, int i, char *out, size_t cap)
{
    if (!b->meta_is_dir) {
        snprintf(out, cap, "%s", b->metadata);
        return 0;
    }
    /* the result's name with .json: unique whenever the outputs are */
    const char *from = b->planned ? base_name(b->planned[i]) : NULL;
    char stem[PATH_MAX];
    if (from && b->output)
        snprintf(stem, sizeof stem, "%s", from);
    else
        stem_of(b->inputs.paths[i], stem, sizeof stem);
    if (fmt_path(out, cap, "%s/%s.json", b->metadata, stem))
        return rt_error(RT_ERR_ARG, "the metadata path for %s is too long", b->inputs.paths[i]);
    return 0;
}

/* The job's own warnings (no face found, a correction made gently, a
 * profile assumed...): on the terminal as well as in result.json.  The
 * payload's warnings come first in the list and were printed already. */
static void print_job_warnings(batch *b, const cli_file_progress *fp, rt_job *job)
{
    char *s = rt_job_metadata_json(job);
    json_t *root = s ? json_loads(s, 0, NULL) : NULL;
    free(s);
    json_t *w = json_object_get(root, "warnings");
    for (size_t k = b->payload->nwarnings; k < json_array_size(w); k++) {
        const char *text = json_string_value(json_array_get(w, k));
        if (text)
            cli_progress_message(b->progress, "[%d/%d] %s: warning: %s\n", fp->number, b->inputs.n,
                                 fp->name, text);
    }
    json_decref(root);
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
                          .progress_user = &fp,
                          .output_format = b->output_format,
                          .cmyk_profile = b->cmyk_profile};
    double t0 = now_seconds();
    rt_job *job = NULL;
    char out[PATH_MAX], meta[PATH_MAX];
    int err = check_input(in, b->max_mp);
    if (!err) err = rt_job_create(b->payload, &opt, &job);
    if (!err) err = rt_job_run(job, in);
    if (!err && !b->quiet) print_job_warnings(b, &fp, job);
    if (!err) err = output_path_for(b, i, rt_job_output_extension(job), out, sizeof out);
    if (!err && same_file(out, in))
        err = rt_error(RT_ERR_ARG, "%s: refusing to overwrite the input with the result", in);
    if (!err) err = rt_job_write(job, out);
    if (!err) mark_output(out);
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

/* libvips's own warnings go through the CLI's reporting: prefixed like ours,
 * kept off the progress bar, each said once (the header is read more than
 * once), and silent under --quiet. */
static struct {
    pthread_mutex_t lock;
    int quiet;
    cli_progress *progress; /* NULL before the batch starts */
    char seen[16][160];
    int nseen;
} library_warnings = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void library_warning(const gchar *domain, GLogLevelFlags level, const gchar *message,
                            gpointer user)
{
    (void)domain;
    (void)level;
    (void)user;
    pthread_mutex_lock(&library_warnings.lock);
    int seen = library_warnings.quiet;
    for (int i = 0; i < library_warnings.nseen && !seen; i++)
        seen = strncmp(library_warnings.seen[i], message, sizeof library_warnings.seen[i] - 1) == 0;
    if (!seen && library_warnings.nseen < 16)
        snprintf(library_warnings.seen[library_warnings.nseen++], sizeof library_warnings.seen[0],
                 "%s", message);
    cli_progress *progress = library_warnings.progress;
    pthread_mutex_unlock(&library_warnings.lock);
    if (seen) return;
    if (progress)
        cli_progress_message(progress, "retouch: warning (libvips): %s\n", message);
    else
        fprintf(stderr, "retouch: warning (libvips): %s\n", message);
}

/* One input file: decides the format from -o's extension and checks it fits
 * the payload, before any work.  Returns 0 or prints the error. */
static int choose_output_format(const rt_payload *payload, const char *output, const char **format)
{
    char ext[16];
    extension_of(output, ext, sizeof ext);
    int layered = rt_payload_is_layered(payload);
    *format = NULL;
    if (layered) {
        if (strcmp(ext, "zip") != 0) {
            fprintf(stderr,
                    "retouch: -o %s: this payload makes a ZIP of layers (%s); name the output "
                    ".zip\n",
                    output,
                    payload->output_format == RT_OUTPUT_ZIP ? "outputFormat is zip"
                                                            : "a task has \"Layer\": 1");
            return -1;
        }
        return 0;
    }
    if (strcmp(ext, "zip") == 0) {
        fprintf(stderr,
                "retouch: -o %s: this payload makes one image (no task has \"Layer\": 1); name "
                "an image file (.jpg, .png, .tif, .webp, .heic, .avif), or ask for layers\n",
                output);
        return -1;
    }
    int i = image_ext_index(ext);
    if (i < 0) return 0; /* no image extension: the input's format, as named */
    static const char *const payload_formats[] = {NULL, "jpeg", "png", "tiff", "zip"};
    const char *asked = payload_formats[payload->output_format];
    if (asked && strcmp(asked, image_exts[i].format) != 0) {
        fprintf(stderr, "retouch: -o %s: the payload's outputFormat is %s, but the name says %s\n",
                output, asked, image_exts[i].format);
        return -1;
    }
    *format = image_exts[i].format;
    return 0;
}

static void free_batch(batch *b)
{
    for (int i = 0; i < b->inputs.n; i++) {
        free(b->inputs.paths[i]);
        if (b->claimed) free(b->claimed[i]);
        if (b->planned) free(b->planned[i]);
        if (b->planned_ext) free(b->planned_ext[i]);
    }
    free(b->claimed);
    free(b->planned);
    free(b->planned_ext);
    free(b->inputs.paths);
}

int main(int argc, char **argv)
{
    const char *payload_path = NULL, *preset = NULL, *output = NULL, *metadata = NULL;
    const char *cmyk_profile = NULL;
    int jobs = 1, quiet = 0, validate = 0, list_plugins = 0;
    double max_mp = 0;
    enum { OPT_PRESET = 1000, OPT_METADATA, OPT_VALIDATE, OPT_LIST, OPT_MAXMP, OPT_CMYK };
    static const struct option longopts[] = {{"payload", required_argument, 0, 'p'},
                                             {"preset", required_argument, 0, OPT_PRESET},
                                             {"output", required_argument, 0, 'o'},
                                             {"metadata", required_argument, 0, OPT_METADATA},
                                             {"jobs", required_argument, 0, 'j'},
                                             {"max-megapixels", required_argument, 0, OPT_MAXMP},
                                             {"cmyk-profile", required_argument, 0, OPT_CMYK},
                                             {"validate", no_argument, 0, OPT_VALIDATE},
                                             {"list-plugins", no_argument, 0, OPT_LIST},
                                             {"quiet", no_argument, 0, 'q'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    int c;
    opterr = 0; /* our own messages, prefixed retouch: like every other */
    while ((c = getopt_long(argc, argv, ":p:o:j:qh", longopts, NULL)) != -1) {
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
        case OPT_CMYK:
            cmyk_profile = optarg;
            if (strcmp(optarg, "press") && strcmp(optarg, "naive") && access(optarg, R_OK) != 0) {
                fprintf(stderr,
                        "retouch: --cmyk-profile %s: use press, naive or a readable ICC profile "
                        "file (%s)\n",
                        optarg, strerror(errno));
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
        case ':':
            if (optopt)
                fprintf(stderr, "retouch: option -%c needs a value (retouch --help)\n", optopt);
            else
                fprintf(stderr, "retouch: option %s needs a value (retouch --help)\n",
                        argv[optind - 1]);
            return EXIT_USAGE;
        default:
            if (optopt)
                fprintf(stderr, "retouch: unknown option -%c (retouch --help lists them)\n",
                        optopt);
            else
                fprintf(stderr, "retouch: unknown option %s (retouch --help lists them)\n",
                        argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    library_warnings.quiet = quiet;
    g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE, library_warning, NULL);
    if (rt_init(argv[0])) {
        fprintf(stderr, "retouch: %s\n", rt_last_error());
        return EXIT_USAGE;
    }
    if (list_plugins) {
        for (size_t i = 0; i < rt_plugin_count(); i++)
            printf("%-20s %s\n", rt_plugin_name(i),
                   rt_plugin_implemented(i) ? "implemented" : "not implemented yet");
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
    /* the payload's warnings, once, before the images (result.json has them too) */
    if (!quiet)
        for (size_t i = 0; i < payload->nwarnings; i++)
            fprintf(stderr, "retouch: warning: %s\n", payload->warnings[i]);

    batch b = {.payload = payload,
               .output = output,
               .metadata = metadata,
               .jobs = jobs,
               .quiet = quiet,
               .cmyk_profile = cmyk_profile,
               .max_mp = max_mp};
    pthread_mutex_init(&b.lock, NULL);
    int rc = 0;
    int folder_input = 0, skipped = 0;
    for (int i = optind; i < argc; i++) {
        if (is_dir(argv[i])) {
            folder_input = 1;
            if (input_add_dir(&b.inputs, argv[i], quiet, &skipped) != 0) {
                fprintf(stderr, "retouch: cannot read the folder %s: %s\n", argv[i],
                        strerror(errno));
                rc = EXIT_USAGE;
            }
        } else {
            input_add(&b.inputs, argv[i]);
        }
    }
    if (rc == 0 && b.inputs.n == 0) {
        if (skipped)
            fprintf(stderr, "retouch: nothing to do: the folder holds only results of earlier "
                            "runs\n");
        else
            fprintf(stderr, "retouch: no input images%s\n",
                    folder_input ? " (the folder holds no JPEG/PNG/TIFF/WebP/HEIF files)" : "");
        if (!skipped) usage(stderr);
        rc = EXIT_USAGE;
    }
    /* One input file: -o and --metadata are files, unless they name existing
     * folders.  Several inputs or a folder: both are folders. */
    int one = b.inputs.n == 1 && !folder_input;
    b.out_is_dir = !one || (output && is_dir(output));
    b.meta_is_dir = !one || (metadata && is_dir(metadata));
    size_t olen = output ? strlen(output) : 0;
    if (rc == 0 && output && b.out_is_dir && !is_dir(output) && output[olen - 1] != '/') {
        /* several inputs into "x.jpg" would make a folder named like a file */
        char ext[16];
        extension_of(output, ext, sizeof ext);
        if (image_ext_index(ext) >= 0 || !strcmp(ext, "zip")) {
            fprintf(stderr,
                    "retouch: -o %s: %d inputs need an output folder, and %s names a file; "
                    "give a folder (end it with / to really use this name)\n",
                    output, b.inputs.n, output);
            rc = EXIT_USAGE;
        }
    }
    if (rc == 0 && output && !b.out_is_dir) {
        if (check_parent_folder("-o", output) ||
            choose_output_format(payload, output, &b.output_format))
            rc = EXIT_USAGE;
    }
    if (rc == 0 && metadata && !b.meta_is_dir && check_parent_folder("--metadata", metadata))
        rc = EXIT_USAGE;
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
    b.claimed = calloc((size_t)(b.inputs.n ? b.inputs.n : 1), sizeof *b.claimed);
    if (rc == 0 && (!b.claimed || ((b.out_is_dir || !output) && plan_outputs(&b, quiet) != 0)))
        rc = EXIT_USAGE;
    if (rc) {
        rt_payload_destroy(payload);
        free_batch(&b);
        pthread_mutex_destroy(&b.lock);
        return rc;
    }
    if (b.jobs > b.inputs.n) b.jobs = b.inputs.n;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    b.threads_per_job = (int)(cores / b.jobs);
    if (b.threads_per_job < 1) b.threads_per_job = 1;
    b.progress = cli_progress_create(b.inputs.n, quiet);
    pthread_mutex_lock(&library_warnings.lock);
    library_warnings.progress = b.progress;
    pthread_mutex_unlock(&library_warnings.lock);

    pthread_t threads[64];
    for (int i = 0; i < b.jobs; i++)
        pthread_create(&threads[i], NULL, worker, &b);
    for (int i = 0; i < b.jobs; i++)
        pthread_join(threads[i], NULL);

    pthread_mutex_lock(&library_warnings.lock);
    library_warnings.progress = NULL;
    pthread_mutex_unlock(&library_warnings.lock);
    cli_progress_destroy(b.progress);
    if (!quiet && b.inputs.n > 1)
        fprintf(stderr, "%d of %d images done%s\n", b.inputs.n - b.failed, b.inputs.n,
                b.failed ? ", see the errors above" : "");
    int failed = b.failed;
    free_batch(&b);
    pthread_mutex_destroy(&b.lock);
    rt_payload_destroy(payload);
    return failed ? EXIT_INPUT_FAILED : 0;
}
