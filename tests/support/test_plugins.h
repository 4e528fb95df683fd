/* Test-only plugins: simple, deterministic layers of every blend mode and
 * shape (partial rectangles, soft alpha, masks) that exercise the pipeline
 * until the real plugins land.  They take the names of plugins that are not
 * implemented yet and are installed only by test programs. */
#ifndef RT_TEST_PLUGINS_H
#define RT_TEST_PLUGINS_H

#include "plugins/plugin.h"

/* Defined in src/plugins/registry.c; the product never calls it. */
int rt_registry_install_test_plugin(const rt_plugin *p);

/* Installs the test plugins below. */
void test_plugins_install(void);

/* "Heal" (normal, small soft patch), "Dodge Burn" (softLight, central
 * rectangle), "Mattifier" (darken, full size with a disc of alpha),
 * "Glasses Anti Glare" (linearLight, rectangle with an alpha ramp),
 * "Skin Mask" (mask of bright pixels).  All scale with Alpha1; Alpha1 = 0
 * returns no layer. */

#endif
