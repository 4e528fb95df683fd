/* The registry of implemented plugins: one line per plugin. */
#include "plugins/plugin.h"

#include <string.h>

extern const rt_plugin rt_plugin_skin_mask;
extern const rt_plugin rt_plugin_clean_backdrop;
extern const rt_plugin rt_plugin_heal;
extern const rt_plugin rt_plugin_fabric;
extern const rt_plugin rt_plugin_dust;
extern const rt_plugin rt_plugin_eye_vessels;
extern const rt_plugin rt_plugin_eye_brilliance;
extern const rt_plugin rt_plugin_white_teeth;
extern const rt_plugin rt_plugin_mattifier;
extern const rt_plugin rt_plugin_dodge_burn;
extern const rt_plugin rt_plugin_skin_tone;
extern const rt_plugin rt_plugin_portrait_volumes;
extern const rt_plugin rt_plugin_face_detection;
extern const rt_plugin rt_plugin_face_lifting;
extern const rt_plugin rt_plugin_glasses_anti_glare;
extern const rt_plugin rt_plugin_color_correction;
extern const rt_plugin rt_plugin_crop;

/* In the table order of PLUGINS.md; one line per plugin. */
/* clang-format off */
static const rt_plugin *const registry[] = {
    &rt_plugin_skin_mask,
    &rt_plugin_clean_backdrop,
    &rt_plugin_heal,
    &rt_plugin_fabric,
    &rt_plugin_dust,
    &rt_plugin_eye_vessels,
    &rt_plugin_eye_brilliance,
    &rt_plugin_white_teeth,
    &rt_plugin_mattifier,
    &rt_plugin_dodge_burn,
    &rt_plugin_skin_tone,
    &rt_plugin_portrait_volumes,
    &rt_plugin_face_detection,
    &rt_plugin_face_lifting,
    &rt_plugin_glasses_anti_glare,
    &rt_plugin_color_correction,
    &rt_plugin_crop,
};
/* clang-format on */

/* Test-only plugins (tests/support) are installed here by the test binaries;
 * the product never installs any. */
#define MAX_TEST_PLUGINS 8
static const rt_plugin *test_plugins[MAX_TEST_PLUGINS];

int rt_registry_install_test_plugin(const rt_plugin *p)
{
    for (int i = 0; i < MAX_TEST_PLUGINS; i++)
        if (!test_plugins[i] || strcmp(test_plugins[i]->name, p->name) == 0) {
            test_plugins[i] = p;
            return 0;
        }
    return -1;
}

const rt_plugin *rt_plugin_find(const char *canonical_name)
{
    for (int i = 0; i < MAX_TEST_PLUGINS && test_plugins[i]; i++)
        if (strcmp(test_plugins[i]->name, canonical_name) == 0) return test_plugins[i];
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (strcmp(registry[i]->name, canonical_name) == 0) return registry[i];
    return NULL;
}
