#include "test_plugins.h"

#include <math.h>

static int make_layer(int w, int h, int channels, rt_image **out)
{
    return rt_image_create(w, h, channels, out);
}

static int heal_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    double s = rt_task_number(ctx->task, "Alpha1");
    if (s == 0) return 0;
    const rt_image *im = ctx->image;
    int w = im->width / 5, h = im->height / 6;
    out->x = im->width / 3;
    out->y = im->height / 4;
    int err = make_layer(w, h, 4, &out->layer);
    if (err) return err;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x, j = (size_t)(y + out->y) * im->width + x + out->x;
            for (int c = 0; c < 3; c++)
                rt_image_plane(out->layer, c)[i] = 1.0f - rt_image_plane(im, c)[j];
            double dx = (x - w / 2.0) / (w / 2.0), dy = (y - h / 2.0) / (h / 2.0);
            double a = fmax(0.0, 1.0 - sqrt(dx * dx + dy * dy));
            rt_image_plane(out->layer, 3)[i] = (float)(a * fmin(s, 1.0));
        }
    return 0;
}

static int dodge_burn_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    double s = rt_task_number(ctx->task, "Alpha1");
    if (s == 0) return 0;
    const rt_image *im = ctx->image;
    int w = im->width / 2, h = im->height / 2;
    out->x = im->width / 4;
    out->y = im->height / 4;
    int err = make_layer(w, h, 4, &out->layer);
    if (err) return err;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            float v = (float)(0.5 + 0.25 * fmin(s, 2.0) / 2.0 * sin(x * 0.05) * cos(y * 0.04));
            for (int c = 0; c < 3; c++)
                rt_image_plane(out->layer, c)[i] = v;
            rt_image_plane(out->layer, 3)[i] = 1.0f;
        }
    return 0;
}

static int mattifier_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    double s = rt_task_number(ctx->task, "Alpha1");
    if (s == 0) return 0;
    const rt_image *im = ctx->image;
    int err = make_layer(im->width, im->height, 4, &out->layer);
    if (err) return err;
    double r = 0.3 * (im->width < im->height ? im->width : im->height);
    for (int y = 0; y < im->height; y++)
        for (int x = 0; x < im->width; x++) {
            size_t i = (size_t)y * im->width + x;
            for (int c = 0; c < 3; c++)
                rt_image_plane(out->layer, c)[i] = rt_image_plane(im, c)[i] * 0.8f;
            double d = hypot(x - im->width / 2.0, y - im->height / 2.0);
            rt_image_plane(out->layer, 3)[i] = d < r ? (float)fmin(s, 1.0) : 0.0f;
        }
    return 0;
}

static int glare_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    double s = rt_task_number(ctx->task, "Glasses Glare Removal");
    if (s == 0) return 0;
    const rt_image *im = ctx->image;
    int w = im->width / 3, h = im->height / 8;
    out->x = im->width / 3;
    out->y = im->height / 3;
    int err = make_layer(w, h, 4, &out->layer);
    if (err) return err;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            for (int c = 0; c < 3; c++)
                rt_image_plane(out->layer, c)[i] = (float)(0.5 - 0.1 * s * (c + 1) / 3.0);
            rt_image_plane(out->layer, 3)[i] = (float)x / (float)(w - 1);
        }
    return 0;
}

static int skin_mask_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    double s = rt_task_number(ctx->task, "Alpha1");
    const rt_image *im = ctx->image;
    int err = make_layer(im->width, im->height, 1, &out->layer);
    if (err) return err;
    const float *g = rt_image_plane(im, 1);
    float *m = rt_image_plane(out->layer, 0);
    for (size_t i = 0; i < rt_image_pixels(im); i++)
        m[i] = g[i] > 0.5f - 0.1f * (float)s ? 1.0f : 0.0f;
    return 0;
}

static const rt_plugin test_heal = {"Heal", RT_NEEDS_NOTHING, heal_run};
static const rt_plugin test_dodge_burn = {"Dodge Burn", RT_NEEDS_NOTHING, dodge_burn_run};
static const rt_plugin test_mattifier = {"Mattifier", RT_NEEDS_NOTHING, mattifier_run};
static const rt_plugin test_glare = {"Glasses Anti Glare", RT_NEEDS_NOTHING, glare_run};
static const rt_plugin test_skin_mask = {"Skin Mask", RT_NEEDS_NOTHING, skin_mask_run};

void test_plugins_install(void)
{
    rt_registry_install_test_plugin(&test_heal);
    rt_registry_install_test_plugin(&test_dodge_burn);
    rt_registry_install_test_plugin(&test_mattifier);
    rt_registry_install_test_plugin(&test_glare);
    rt_registry_install_test_plugin(&test_skin_mask);
}
