/* The task payload: JSON text -> validated, normalised task list.
 *
 * Every rule of API.md "The task payload" lives here.  Errors name the task
 * index, the plugin, the field and the rule:
 *     tasks[2] (Dodge Burn): Alpha1 = 2.5 is outside [0, 2]
 * and all problems of a payload are reported at once (joined by "; ").
 *
 * Ownership: payload_parse() returns a payload owned by the caller, released
 * with payload_destroy(); tasks and warnings belong to the payload.
 */
#ifndef RT_PAYLOAD_PAYLOAD_H
#define RT_PAYLOAD_PAYLOAD_H

#include "payload/plugin_table.h"

#include <stddef.h>

#define RT_PAYLOAD_MAX_BYTES 65536
#define RT_PAYLOAD_MAX_TASKS 64

typedef struct rt_field_value {
    double num;   /* NUMBER, INT, BOOL value; CHOICE and ASPECT: choice index */
    double ratio; /* ASPECT with RT_ASPECT_RATIO: width / height */
    int given;    /* present in the payload (otherwise the default) */
} rt_field_value;

typedef struct rt_task {
    int index; /* position in the payload's tasks[] */
    const rt_plugin_spec *spec;
    int layer;    /* 0/1 */
    int scale;    /* 0 auto, 1 close-up (largest dirt), 2, 3 */
    int automask; /* Clean Backdrop only */
    rt_field_value values[RT_MAX_FIELDS];
} rt_task;

typedef enum rt_output_format {
    RT_OUTPUT_SAME, /* the input's format */
    RT_OUTPUT_JPEG,
    RT_OUTPUT_PNG,
    RT_OUTPUT_TIFF,
    RT_OUTPUT_ZIP,
} rt_output_format;

struct rt_payload {
    rt_output_format output_format;
    const char *cmyk_profile; /* NULL, "press" or "naive" (payload "cmykProfile") */
    size_t ntasks;
    rt_task *tasks;
    size_t nwarnings;
    char **warnings;
};
typedef struct rt_payload rt_payload;

int payload_parse(const char *json, size_t len, rt_payload **out);
void payload_destroy(rt_payload *p);
/* Normalised JSON (malloc'd string). */
char *payload_to_json(const rt_payload *p);
/* The result is a ZIP: a task has Layer 1 or outputFormat is "zip". */
int payload_is_layered(const rt_payload *p);

/* Field accessors by exact table path; a path the plugin does not have is a
 * programming error (aborts). */
double rt_task_number(const rt_task *t, const char *path);
int rt_task_choice(const rt_task *t, const char *path);
int rt_task_given(const rt_task *t, const char *path);
const rt_field_value *rt_task_value(const rt_task *t, const char *path);

#endif
