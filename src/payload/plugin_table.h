/* The plugin parameter table: the one description of the 17 plugins' names,
 * fields, ranges, defaults and layer blend modes (PLUGINS.md).  The payload
 * validator, the normalised JSON, the CLI's --list-plugins and the pipeline
 * all read it; nothing else repeats these numbers.
 */
#ifndef RT_PAYLOAD_PLUGIN_TABLE_H
#define RT_PAYLOAD_PLUGIN_TABLE_H

#include "core/blend.h"

#include <stddef.h>

typedef enum rt_field_type {
    RT_FIELD_NUMBER, /* number or numeric string inside [min, max] */
    RT_FIELD_INT,    /* integral number inside [min, max] */
    RT_FIELD_BOOL,   /* true/false, 0/1 */
    RT_FIELD_CHOICE, /* one of choices[] (matched ignoring case, spaces, _ and -) */
    RT_FIELD_ASPECT, /* "Original", "Free", "Square", "Custom" or "W : H" */
} rt_field_type;

/* Aspect-ratio choices of RT_FIELD_ASPECT (value.choice). */
enum { RT_ASPECT_ORIGINAL, RT_ASPECT_FREE, RT_ASPECT_SQUARE, RT_ASPECT_CUSTOM, RT_ASPECT_RATIO };

#define RT_MAX_CHOICES 8

typedef struct rt_field_spec {
    const char *path;  /* key, nested keys separated by '/': "User Params/Basic/Exposure" */
    const char *label; /* what the field means: "Sensitivity" */
    rt_field_type type;
    double min, max, def;
    const char *choices[RT_MAX_CHOICES]; /* RT_FIELD_CHOICE, NULL-terminated; def = index */
    const char *alias;                   /* other accepted key ("Alpha1" for a named field) */
} rt_field_spec;

#define RT_MAX_FIELDS 16

typedef struct rt_plugin_spec {
    const char *name; /* canonical, with its spaces: "Dodge Burn" */
    rt_blend blend;   /* layer mode (RT_BLEND_NONE: metadata or geometry only) */
    int uses_automask;
    size_t nfields;
    rt_field_spec fields[RT_MAX_FIELDS];
} rt_plugin_spec;

size_t rt_plugin_spec_count(void);
const rt_plugin_spec *rt_plugin_spec_at(size_t i);
/* Finds a plugin ignoring case, spaces, '_' and '-'; NULL when unknown. */
const rt_plugin_spec *rt_plugin_spec_find(const char *name);
/* Index of the field with that exact path, or -1. */
int rt_plugin_spec_field(const rt_plugin_spec *spec, const char *path);

/* Compares two names ignoring case, spaces, '_' and '-' ("dodge_burn" == "Dodge Burn"). */
int rt_name_matches(const char *a, const char *b);

#endif
