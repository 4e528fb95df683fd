#include "payload/plugin_table.h"

#include <ctype.h>
#include <string.h>

#define BLEND_FIELD(lbl, hi)                                                                       \
    {                                                                                              \
        "Alpha1", lbl, RT_FIELD_NUMBER, 0, hi, 1, {NULL}, NULL                                     \
    }

/* Table order is PLUGINS.md's; ranges are the API's. */
static const rt_plugin_spec plugin_table[] = {
    {"Skin Mask", RT_BLEND_MASK, 0, 1, {BLEND_FIELD("Sensitivity", 2)}},
    {"Clean Backdrop", RT_BLEND_NORMAL, 1, 1, {BLEND_FIELD("Blend", 1)}},
    {"Heal", RT_BLEND_NORMAL, 0, 1, {BLEND_FIELD("Sensitivity", 1)}},
    {"Fabric", RT_BLEND_NORMAL, 0, 1, {BLEND_FIELD("Blend", 2)}},
    {"Dust", RT_BLEND_NORMAL, 0, 1, {BLEND_FIELD("Blend", 2)}},
    {"Eye Vessels", RT_BLEND_NORMAL, 0, 1, {BLEND_FIELD("Blend", 1)}},
    {"Eye Brilliance", RT_BLEND_NORMAL, 0, 1, {BLEND_FIELD("Blend", 2)}},
    {"White Teeth",
     RT_BLEND_NORMAL,
     0,
     2,
     {BLEND_FIELD("Whiten", 1), {"Alpha2", "Brighten", RT_FIELD_NUMBER, 0, 1, 0, {NULL}, NULL}}},
    {"Mattifier", RT_BLEND_DARKEN, 0, 1, {BLEND_FIELD("Blend", 1)}},
    {"Dodge Burn",
     RT_BLEND_SOFT_LIGHT,
     0,
     2,
     {BLEND_FIELD("Blend", 2), {"Alpha2", "Warmth", RT_FIELD_NUMBER, 0, 1, 0, {NULL}, NULL}}},
    {"Skin Tone", RT_BLEND_SOFT_LIGHT, 0, 1, {BLEND_FIELD("Blend", 2)}},
    {"Portrait Volumes", RT_BLEND_SOFT_LIGHT, 0, 1, {BLEND_FIELD("Blend", 2)}},
    {"Face Detection", RT_BLEND_NONE, 0, 0, {{NULL}}},
    {"Face Lifting",
     RT_BLEND_NORMAL,
     0,
     7,
     {
         {"face_lifting_version", "Algorithm version", RT_FIELD_INT, 1, 3, 3, {NULL}, NULL},
         {"Face Lifting", "Slimmer cheeks and jaw", RT_FIELD_NUMBER, 0, 1, 1, {NULL}, NULL},
         {"Face Masculinity",
          "Masculinity (0.5 neutral)",
          RT_FIELD_NUMBER,
          0,
          1,
          0.5,
          {NULL},
          NULL},
         {"Face Femininity",
          "Femininity (mirror of Masculinity)",
          RT_FIELD_NUMBER,
          0,
          1,
          0.5,
          {NULL},
          NULL},
         {"Double Chin Correction",
          "Double chin correction",
          RT_FIELD_NUMBER,
          0,
          1,
          0,
          {NULL},
          NULL},
         {"Face Lifting Depth",
          "How far into the face the reshaping reaches",
          RT_FIELD_NUMBER,
          0,
          1,
          0.5,
          {NULL},
          NULL},
         {"Flow Smoothing",
          "Smoothness of the warp field",
          RT_FIELD_NUMBER,
          0,
          1,
          0.1,
          {NULL},
          NULL},
     }},
    {"Glasses Anti Glare",
     RT_BLEND_LINEAR_LIGHT,
     0,
     2,
     {
         {"Glasses Glare Removal", "Strength", RT_FIELD_NUMBER, 0, 1, 1, {NULL}, "Alpha1"},
         {"LayoutMode", "Layer layout", RT_FIELD_CHOICE, 0, 0, 0, {"full", "patch", NULL}, NULL},
     }},
    {"Color Correction",
     RT_BLEND_NORMAL,
     0,
     7,
     {
         {"User Params/AI/Color Correction Mode",
          "Automatic correction",
          RT_FIELD_CHOICE,
          0,
          0,
          2,
          {"None", "Exposure only", "Exposure & WB", "Full", NULL},
          NULL},
         {"User Params/Basic/Enable Basic",
          "Enable the correction block",
          RT_FIELD_BOOL,
          0,
          1,
          1,
          {NULL},
          NULL},
         {"User Params/Basic/Exposure",
          "Exposure offset (EV)",
          RT_FIELD_NUMBER,
          -5,
          5,
          0,
          {NULL},
          NULL},
         {"User Params/Basic/Temperature",
          "Warmer (+) or cooler (-)",
          RT_FIELD_NUMBER,
          -100,
          100,
          0,
          {NULL},
          NULL},
         {"User Params/Basic/Tint",
          "Magenta (+) or green (-)",
          RT_FIELD_NUMBER,
          -100,
          100,
          0,
          {NULL},
          NULL},
         {"User Params/Basic/Contrast", "Contrast", RT_FIELD_NUMBER, -100, 100, 0, {NULL}, NULL},
         {"User Params/Basic/Saturation",
          "Saturation",
          RT_FIELD_NUMBER,
          -100,
          100,
          0,
          {NULL},
          NULL},
     }},
    {"Crop",
     RT_BLEND_NONE,
     0,
     9,
     {
         {"User Params/AutoStraightenMode",
          "Straightening",
          RT_FIELD_CHOICE,
          0,
          0,
          0,
          {"Manual", "AI", "Person", NULL},
          NULL},
         {"User Params/Angle",
          "Rotation in degrees, counter-clockwise",
          RT_FIELD_NUMBER,
          -45,
          45,
          0,
          {NULL},
          NULL},
         {"User Params/AspectRatio",
          "Aspect ratio",
          RT_FIELD_ASPECT,
          0,
          0,
          RT_ASPECT_ORIGINAL,
          {NULL},
          NULL},
         {"User Params/ManualAspectRatio",
          "Width / height for Free",
          RT_FIELD_NUMBER,
          0.05,
          20,
          1,
          {NULL},
          NULL},
         {"User Params/CustomAspectX",
          "Custom aspect width",
          RT_FIELD_NUMBER,
          0.001,
          100000,
          1,
          {NULL},
          NULL},
         {"User Params/CustomAspectY",
          "Custom aspect height",
          RT_FIELD_NUMBER,
          0.001,
          100000,
          1,
          {NULL},
          NULL},
         {"User Params/ManualCenterX",
          "Crop centre within its feasible range",
          RT_FIELD_NUMBER,
          0,
          1,
          0.5,
          {NULL},
          NULL},
         {"User Params/ManualCenterY",
          "Crop centre within its feasible range",
          RT_FIELD_NUMBER,
          0,
          1,
          0.5,
          {NULL},
          NULL},
         {"User Params/ManualArea",
          "Crop area, fraction of the largest crop",
          RT_FIELD_NUMBER,
          0.01,
          1,
          1,
          {NULL},
          NULL},
     }},
};

size_t rt_plugin_spec_count(void)
{
    return sizeof plugin_table / sizeof plugin_table[0];
}

const rt_plugin_spec *rt_plugin_spec_at(size_t i)
{
    return i < rt_plugin_spec_count() ? &plugin_table[i] : NULL;
}

static int skippable(int ch)
{
    return ch == ' ' || ch == '_' || ch == '-' || ch == '\t';
}

int rt_name_matches(const char *a, const char *b)
{
    for (;;) {
        while (*a && skippable((unsigned char)*a))
            a++;
        while (*b && skippable((unsigned char)*b))
            b++;
        if (!*a || !*b) return !*a && !*b;
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
        a++;
        b++;
    }
}

const rt_plugin_spec *rt_plugin_spec_find(const char *name)
{
    for (size_t i = 0; i < rt_plugin_spec_count(); i++)
        if (rt_name_matches(name, plugin_table[i].name)) return &plugin_table[i];
    return NULL;
}

int rt_plugin_spec_field(const rt_plugin_spec *spec, const char *path)
{
    for (size_t i = 0; i < spec->nfields; i++)
        if (strcmp(spec->fields[i].path, path) == 0) return (int)i;
    return -1;
}
