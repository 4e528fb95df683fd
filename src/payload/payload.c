#include "payload/payload.h"

#include "core/error.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPORTED_ERRORS 16

/* Collects errors and warnings while one payload is validated. */
typedef struct report {
    char errors[4096];
    int nerrors;
    char **warnings;
    size_t nwarnings;
} report;

static void add_error(report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_error(report *r, const char *fmt, ...)
{
    r->nerrors++;
    if (r->nerrors > MAX_REPORTED_ERRORS) return;
    size_t used = strlen(r->errors);
    if (used && used + 2 < sizeof r->errors) {
        strcat(r->errors, "; ");
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errors + used, sizeof r->errors - used, fmt, ap);
    va_end(ap);
}

static void add_warning(report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_warning(report *r, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **w = realloc(r->warnings, (r->nwarnings + 1) * sizeof *w);
    if (!w) return;
    r->warnings = w;
    w[r->nwarnings] = strdup(buf);
    if (w[r->nwarnings]) r->nwarnings++;
}

/* Lowercases, drops spaces/'_'/'-', and spells '&' as "and", so that
 * "Exposure & WB" == "exposure and wb" == "EXPOSURE_AND_WB". */
static void normalise_choice(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; *in && n + 4 < cap; in++) {
        unsigned char ch = (unsigned char)*in;
        if (ch == ' ' || ch == '_' || ch == '-' || ch == '\t') continue;
        if (ch == '&') {
            memcpy(out + n, "and", 3);
            n += 3;
            continue;
        }
        out[n++] = (char)tolower(ch);
    }
    out[n] = '\0';
}

static int choice_index(const rt_field_spec *f, const char *s)
{
    char a[128], b[128];
    normalise_choice(s, a, sizeof a);
    for (int i = 0; i < RT_MAX_CHOICES && f->choices[i]; i++) {
        normalise_choice(f->choices[i], b, sizeof b);
        if (strcmp(a, b) == 0) return i;
    }
    return -1;
}

static void list_choices(const rt_field_spec *f, char *out, size_t cap)
{
    out[0] = '\0';
    for (int i = 0; i < RT_MAX_CHOICES && f->choices[i]; i++) {
        size_t used = strlen(out);
        snprintf(out + used, cap - used, "%s\"%s\"", i ? ", " : "", f->choices[i]);
    }
}

/* Numbers may come as JSON numbers or numeric strings ("0.5"). */
static int json_to_number(json_t *v, double *out)
{
    if (json_is_integer(v)) {
        *out = (double)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        *out = json_real_value(v);
        return isfinite(*out) ? 0 : -1;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s) return -1;
        double d = strtod(s, &end);
        while (isspace((unsigned char)*end))
            end++;
        if (*end || !isfinite(d)) return -1;
        *out = d;
        return 0;
    }
    return -1;
}

static int json_to_bool(json_t *v, int *out)
{
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    double d;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!strcasecmp(s, "true")) {
            *out = 1;
            return 0;
        }
        if (!strcasecmp(s, "false")) {
            *out = 0;
            return 0;
        }
    }
    if (json_to_number(v, &d) == 0 && (d == 0 || d == 1)) {
        *out = d != 0;
        return 0;
    }
    return -1;
}

/* Short rendering of a JSON value for messages. */
static void describe_value(json_t *v, char *out, size_t cap)
{
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(10));
    if (!s) {
        snprintf(out, cap, "?");
        return;
    }
    if (strlen(s) > 40) strcpy(s + 37, "...");
    snprintf(out, cap, "%s", s);
    free(s);
}

/* A ratio is a string: a bare number (45) would silently mean "45 : 1". */
static int parse_aspect(json_t *v, rt_field_value *val)
{
    if (!json_is_string(v)) return -1;
    const char *s = json_string_value(v);
    static const char *const names[] = {"Original", "Free", "Square", "Custom"};
    for (int i = 0; i < 4; i++)
        if (rt_name_matches(s, names[i])) {
            val->num = i;
            val->ratio = i == RT_ASPECT_SQUARE ? 1.0 : 0.0;
            return 0;
        }
    /* "W : H", "W:H", "WxH", "W/H" */
    char *end;
    double w = strtod(s, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (end == s || (*end != ':' && *end != 'x' && *end != 'X' && *end != '/')) return -1;
    const char *rest = end + 1;
    double h = strtod(rest, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (end == rest || *end || !(w > 0) || !(h > 0) || !isfinite(w) || !isfinite(h)) return -1;
    if (w / h < 0.05 || w / h > 20) return -2;
    val->num = RT_ASPECT_RATIO;
    val->ratio = w / h;
    return 0;
}

/* Finds key in obj ignoring case, spaces, '_' and '-'. */
static json_t *lenient_get(json_t *obj, const char *key)
{
    if (!json_is_object(obj)) return NULL;
    json_t *v = json_object_get(obj, key);
    if (v) return v;
    const char *k;
    json_object_foreach(obj, k, v)
    {
        if (rt_name_matches(k, key)) return v;
    }
    return NULL;
}

/* Resolves a '/'-separated field path inside a task object. */
static json_t *get_path(json_t *task, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = task;
    char *save = NULL;
    for (char *part = strtok_r(buf, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
        cur = lenient_get(cur, part);
        if (!cur) return NULL;
    }
    return cur;
}

static void fmt_num(double d, char *out, size_t cap)
{
    snprintf(out, cap, "%g", d);
}

static void parse_field(report *r, const char *where, const rt_field_spec *f, json_t *v,
                        const char *key, rt_field_value *val)
{
    char shown[64], lo[32], hi[32];
    describe_value(v, shown, sizeof shown);
    fmt_num(f->min, lo, sizeof lo);
    fmt_num(f->max, hi, sizeof hi);
    val->given = 1;
    switch (f->type) {
    case RT_FIELD_NUMBER:
    case RT_FIELD_INT: {
        double d;
        if (json_to_number(v, &d) != 0) {
            add_error(r, "%s: %s = %s is not a number; use a number in [%s, %s]", where, key, shown,
                      lo, hi);
            return;
        }
        if (f->type == RT_FIELD_INT && d != floor(d)) {
            add_error(r, "%s: %s = %s must be a whole number in [%s, %s]", where, key, shown, lo,
                      hi);
            return;
        }
        if (d < f->min || d > f->max) {
            add_error(r, "%s: %s = %s is outside [%s, %s]", where, key, shown, lo, hi);
            return;
        }
        val->num = d;
        return;
    }
    case RT_FIELD_BOOL: {
        int b;
        if (json_to_bool(v, &b) != 0) {
            add_error(r, "%s: %s = %s must be true or false (or 1/0)", where, key, shown);
            return;
        }
        val->num = b;
        return;
    }
    case RT_FIELD_CHOICE: {
        int i = json_is_string(v) ? choice_index(f, json_string_value(v)) : -1;
        if (i < 0) {
            char list[256];
            list_choices(f, list, sizeof list);
            add_error(r, "%s: %s = %s is not one of %s", where, key, shown, list);
            return;
        }
        val->num = i;
        return;
    }
    case RT_FIELD_ASPECT:
        if (json_is_number(v))
            add_error(r,
                      "%s: %s = %s is a number, but an aspect ratio is a string: write "
                      "\"W : H\" (for example \"4 : 5\"), or use ManualAspectRatio with "
                      "\"Free\"",
                      where, key, shown);
        else if (parse_aspect(v, val) == -2)
            add_error(r, "%s: %s = %s is too elongated; width / height must be in [0.05, 20]",
                      where, key, shown);
        else if (parse_aspect(v, val) != 0)
            add_error(r,
                      "%s: %s = %s is not an aspect ratio; use \"Original\", \"Free\", "
                      "\"Square\", \"Custom\" or \"W : H\" (for example \"4 : 5\")",
                      where, key, shown);
        return;
    }
}

/* Keys a task may carry besides its plugin's fields. */
static int is_common_key(const char *k)
{
    static const char *const common[] = {"Plugin", "Layer", "Scale", "Automask", NULL};
    for (int i = 0; common[i]; i++)
        if (rt_name_matches(k, common[i])) return 1;
    return 0;
}

/* Does path ("User Params/Foo") name a field, or a group holding fields? */
static int path_is_known(const rt_plugin_spec *spec, const char *path, int is_object)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < spec->nfields; i++) {
        const rt_field_spec *f = &spec->fields[i];
        const char *cands[2] = {f->path, f->alias};
        for (int c = 0; c < 2; c++) {
            const char *fp = cands[c];
            if (!fp) continue;
            /* compare segment by segment, leniently */
            char a[256], b[256];
            snprintf(a, sizeof a, "%s", fp);
            snprintf(b, sizeof b, "%s", path);
            char *sa = NULL, *sb = NULL;
            char *pa = strtok_r(a, "/", &sa), *pb = strtok_r(b, "/", &sb);
            int ok = 1;
            while (pa && pb) {
                if (!rt_name_matches(pa, pb)) {
                    ok = 0;
                    break;
                }
                pa = strtok_r(NULL, "/", &sa);
                pb = strtok_r(NULL, "/", &sb);
            }
            if (!ok || pb) continue;
            if (!pa && !is_object) return 1; /* exact field */
            if (pa && is_object) return 1;   /* a group on the way to a field */
        }
    }
    (void)n;
    return 0;
}

static void warn_unknown_keys(report *r, const char *where, const rt_plugin_spec *spec, json_t *obj,
                              const char *prefix)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "/" : "", k);
        if (!*prefix && is_common_key(k)) continue;
        if (path_is_known(spec, path, json_is_object(v))) {
            if (json_is_object(v)) warn_unknown_keys(r, where, spec, v, path);
            continue;
        }
        /* Real clients send an Alpha2 to Mattifier, Skin Tone, ...: ignored,
         * never an error, but said, so that a user who set it knows. */
        if (!*prefix && (rt_name_matches(k, "Alpha1") || rt_name_matches(k, "Alpha2"))) {
            char shown[64];
            describe_value(v, shown, sizeof shown);
            add_warning(r, "%s: %s = %s ignored: %s does not use %s", where, k, shown, spec->name,
                        k);
            continue;
        }
        add_warning(r, "%s: unknown key '%s' ignored", where, path);
    }
}

static void parse_task(report *r, json_t *jt, int index, rt_task *t)
{
    char where[96];
    memset(t, 0, sizeof *t);
    t->index = index;
    snprintf(where, sizeof where, "tasks[%d]", index);
    if (!json_is_object(jt)) {
        add_error(r, "%s: each task must be a JSON object like {\"Plugin\": \"Heal\"}", where);
        return;
    }
    json_t *jp = lenient_get(jt, "Plugin");
    if (!jp || !json_is_string(jp)) {
        add_error(r, "%s: \"Plugin\" is required and must be a plugin name string", where);
        return;
    }
    const rt_plugin_spec *spec = rt_plugin_spec_find(json_string_value(jp));
    if (!spec) {
        char names[512] = "";
        for (size_t i = 0; i < rt_plugin_spec_count(); i++) {
            size_t used = strlen(names);
            snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                     rt_plugin_spec_at(i)->name);
        }
        char shown[64];
        describe_value(jp, shown, sizeof shown);
        add_error(r, "%s: unknown plugin %s; valid names are %s", where, shown, names);
        return;
    }
    t->spec = spec;
    snprintf(where, sizeof where, "tasks[%d] (%s)", index, spec->name);

    json_t *v;
    char shown[64];
    if ((v = lenient_get(jt, "Layer"))) {
        if (json_to_bool(v, &t->layer) != 0) {
            describe_value(v, shown, sizeof shown);
            add_error(r, "%s: Layer = %s must be 0 or 1 (or false/true)", where, shown);
        }
    }
    if ((v = lenient_get(jt, "Scale"))) {
        double d;
        describe_value(v, shown, sizeof shown);
        if (json_to_number(v, &d) != 0 || d != floor(d) || d < 0 || d > 3)
            add_error(r, "%s: Scale = %s must be 0, 1, 2 or 3 (0 = automatic)", where, shown);
        else
            t->scale = (int)d;
    }
    t->automask = spec->uses_automask; /* protect the person unless told otherwise */
    if ((v = lenient_get(jt, "Automask"))) {
        if (!spec->uses_automask) {
            add_warning(r, "%s: Automask applies to Clean Backdrop only; ignored", where);
        } else if (json_to_bool(v, &t->automask) != 0) {
            describe_value(v, shown, sizeof shown);
            add_error(r, "%s: Automask = %s must be true or false", where, shown);
        }
    }

    for (size_t i = 0; i < spec->nfields; i++) {
        const rt_field_spec *f = &spec->fields[i];
        rt_field_value *val = &t->values[i];
        val->num = f->def;
        val->ratio = (f->type == RT_FIELD_ASPECT && f->def == RT_ASPECT_SQUARE) ? 1.0 : 0.0;
        json_t *fv = get_path(jt, f->path);
        const char *key = f->path;
        if (!fv && f->alias) {
            fv = get_path(jt, f->alias);
            key = f->alias;
        }
        if (fv) parse_field(r, where, f, fv, key, val);
    }

    /* Face Femininity is accepted as the mirror of Face Masculinity. */
    int im = rt_plugin_spec_field(spec, "Face Masculinity");
    int ifem = rt_plugin_spec_field(spec, "Face Femininity");
    if (im >= 0 && ifem >= 0 && t->values[ifem].given) {
        if (!t->values[im].given) {
            t->values[im].num = 1.0 - t->values[ifem].num;
        } else if (fabs(t->values[im].num - (1.0 - t->values[ifem].num)) > 1e-6) {
            add_warning(r,
                        "%s: Face Femininity = %g ignored because Face Masculinity = %g is "
                        "also given",
                        where, t->values[ifem].num, t->values[im].num);
        }
    }
    warn_unknown_keys(r, where, spec, jt, "");
}

static void free_warnings(char **w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(w[i]);
    free(w);
}

int payload_parse(const char *json, size_t len, rt_payload **out)
{
    *out = NULL;
    if (!json)
        return rt_error(RT_ERR_PAYLOAD, "payload is missing; send {\"mode\": \"professional\", "
                                        "\"tasks\": [...]}");
    if (len > RT_PAYLOAD_MAX_BYTES)
        return rt_error(RT_ERR_PAYLOAD, "payload is %zu bytes; the limit is %d bytes", len,
                        RT_PAYLOAD_MAX_BYTES);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return rt_error(RT_ERR_PAYLOAD, "payload is not valid JSON: %s (line %d, column %d)",
                        jerr.text, jerr.line, jerr.column);
    report r = {0};
    rt_payload *p = calloc(1, sizeof *p);
    if (!p) {
        json_decref(root);
        return rt_error(RT_ERR_NOMEM, "out of memory parsing the payload");
    }
    if (!json_is_object(root)) {
        add_error(&r, "payload must be a JSON object: {\"mode\": \"professional\", \"tasks\": "
                      "[...]}");
        goto done;
    }
    json_t *mode = json_object_get(root, "mode");
    if (!mode)
        add_error(&r, "mode is required and must be \"professional\"");
    else if (!json_is_string(mode) || strcasecmp(json_string_value(mode), "professional") != 0) {
        char shown[64];
        describe_value(mode, shown, sizeof shown);
        add_error(&r, "mode = %s is not supported; it must be \"professional\"", shown);
    }
    json_t *fmt = json_object_get(root, "outputFormat");
    if (fmt && !json_is_null(fmt)) {
        static const struct {
            const char *name;
            rt_output_format f;
        } formats[] = {{"jpeg", RT_OUTPUT_JPEG}, {"jpg", RT_OUTPUT_JPEG}, {"png", RT_OUTPUT_PNG},
                       {"tiff", RT_OUTPUT_TIFF}, {"tif", RT_OUTPUT_TIFF}, {"zip", RT_OUTPUT_ZIP}};
        int found = 0;
        if (json_is_string(fmt))
            for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
                if (!strcasecmp(json_string_value(fmt), formats[i].name)) {
                    p->output_format = formats[i].f;
                    found = 1;
                }
        if (!found) {
            char shown[64];
            describe_value(fmt, shown, sizeof shown);
            add_error(&r, "outputFormat = %s is not one of \"jpeg\", \"png\", \"tiff\", \"zip\"",
                      shown);
        }
    }
    /* How a CMYK photo without an ICC profile is read (a server takes no
     * profile file: the CLI's --cmyk-profile does). */
    json_t *cmyk = json_object_get(root, "cmykProfile");
    if (cmyk && !json_is_null(cmyk)) {
        const char *c = json_is_string(cmyk) ? json_string_value(cmyk) : "";
        if (strcasecmp(c, "press") == 0)
            p->cmyk_profile = "press";
        else if (strcasecmp(c, "naive") == 0)
            p->cmyk_profile = "naive";
        else {
            char shown[64];
            describe_value(cmyk, shown, sizeof shown);
            add_error(&r, "cmykProfile = %s is not one of \"press\", \"naive\"", shown);
        }
    }
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
    {
        if (strcmp(k, "mode") && strcmp(k, "outputFormat") && strcmp(k, "tasks") &&
            strcmp(k, "cmykProfile"))
            add_warning(&r, "unknown key '%s' ignored", k);
    }
    json_t *tasks = json_object_get(root, "tasks");
    if (!tasks) {
        add_error(&r, "tasks is required: a list like [{\"Plugin\": \"Color Correction\"}]");
        goto done;
    }
    if (!json_is_array(tasks)) {
        add_error(&r, "tasks must be a list of task objects");
        goto done;
    }
    size_t n = json_array_size(tasks);
    if (n > RT_PAYLOAD_MAX_TASKS) {
        add_error(&r, "tasks has %zu entries; at most %d are allowed", n, RT_PAYLOAD_MAX_TASKS);
        goto done;
    }
    p->tasks = calloc(n ? n : 1, sizeof *p->tasks);
    if (!p->tasks) {
        add_error(&r, "out of memory");
        goto done;
    }
    p->ntasks = n;
    for (size_t i = 0; i < n; i++)
        parse_task(&r, json_array_get(tasks, i), (int)i, &p->tasks[i]);

done:
    json_decref(root);
    if (r.nerrors) {
        if (r.nerrors > MAX_REPORTED_ERRORS) {
            size_t used = strlen(r.errors);
            snprintf(r.errors + used, sizeof r.errors - used, "; and %d more errors",
                     r.nerrors - MAX_REPORTED_ERRORS);
        }
        free_warnings(r.warnings, r.nwarnings);
        payload_destroy(p);
        return rt_error(RT_ERR_PAYLOAD, "%s", r.errors);
    }
    p->warnings = r.warnings;
    p->nwarnings = r.nwarnings;
    *out = p;
    return 0;
}

void payload_destroy(rt_payload *p)
{
    if (!p) return;
    free(p->tasks);
    free_warnings(p->warnings, p->nwarnings);
    free(p);
}

int payload_is_layered(const rt_payload *p)
{
    if (p->output_format == RT_OUTPUT_ZIP) return 1;
    for (size_t i = 0; i < p->ntasks; i++)
        if (p->tasks[i].layer) return 1;
    return 0;
}

const rt_field_value *rt_task_value(const rt_task *t, const char *path)
{
    int i = rt_plugin_spec_field(t->spec, path);
    if (i < 0) {
        fprintf(stderr, "bug: plugin %s has no field %s\n", t->spec->name, path);
        abort();
    }
    return &t->values[i];
}

double rt_task_number(const rt_task *t, const char *path)
{
    return rt_task_value(t, path)->num;
}

int rt_task_choice(const rt_task *t, const char *path)
{
    return (int)rt_task_value(t, path)->num;
}

int rt_task_given(const rt_task *t, const char *path)
{
    return rt_task_value(t, path)->given;
}

/* Sets a value at a '/'-separated path, creating the nested objects. */
static void set_path(json_t *obj, const char *path, json_t *value)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    char *part = strtok_r(buf, "/", &save);
    while (part) {
        char *next = strtok_r(NULL, "/", &save);
        if (!next) {
            json_object_set_new(obj, part, value);
            return;
        }
        json_t *child = json_object_get(obj, part);
        if (!child) {
            child = json_object();
            json_object_set_new(obj, part, child);
        }
        obj = child;
        part = next;
    }
    json_decref(value);
}

static json_t *field_to_json(const rt_field_spec *f, const rt_field_value *v)
{
    switch (f->type) {
    case RT_FIELD_NUMBER:
        return json_real(v->num);
    case RT_FIELD_INT:
        return json_integer((json_int_t)v->num);
    case RT_FIELD_BOOL:
        return json_boolean(v->num != 0);
    case RT_FIELD_CHOICE:
        return json_string(f->choices[(int)v->num]);
    case RT_FIELD_ASPECT: {
        static const char *const names[] = {"Original", "Free", "Square", "Custom"};
        int c = (int)v->num;
        if (c < RT_ASPECT_RATIO) return json_string(names[c]);
        char buf[64];
        snprintf(buf, sizeof buf, "%.6g : 1", v->ratio);
        return json_string(buf);
    }
    }
    return json_null();
}

char *payload_to_json(const rt_payload *p)
{
    static const char *const fmt_names[] = {NULL, "jpeg", "png", "tiff", "zip"};
    json_t *root = json_object();
    json_object_set_new(root, "mode", json_string("professional"));
    json_object_set_new(root, "output", json_string(payload_is_layered(p) ? "zip" : "image"));
    json_object_set_new(root, "outputFormat",
                        p->output_format == RT_OUTPUT_SAME
                            ? json_string("same as input")
                            : json_string(fmt_names[p->output_format]));
    json_object_set_new(root, "cmykProfile",
                        json_string(p->cmyk_profile ? p->cmyk_profile : "press"));
    json_t *tasks = json_array();
    for (size_t i = 0; i < p->ntasks; i++) {
        const rt_task *t = &p->tasks[i];
        json_t *jt = json_object();
        json_object_set_new(jt, "index", json_integer(t->index));
        json_object_set_new(jt, "Plugin", json_string(t->spec->name));
        json_object_set_new(jt, "Layer", json_integer(t->layer));
        json_object_set_new(jt, "Scale", json_integer(t->scale));
        if (t->spec->uses_automask) json_object_set_new(jt, "Automask", json_boolean(t->automask));
        json_object_set_new(jt, "blendmode", json_string(rt_blend_name(t->spec->blend)));
        for (size_t f = 0; f < t->spec->nfields; f++)
            set_path(jt, t->spec->fields[f].path,
                     field_to_json(&t->spec->fields[f], &t->values[f]));
        json_array_append_new(tasks, jt);
    }
    json_object_set_new(root, "tasks", tasks);
    json_t *w = json_array();
    for (size_t i = 0; i < p->nwarnings; i++)
        json_array_append_new(w, json_string(p->warnings[i]));
    json_object_set_new(root, "warnings", w);
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(root);
    return s;
}
