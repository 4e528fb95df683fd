/* Face Lifting: slimmer cheeks and jaw, a squarer or softer jaw and chin, a
 * tighter line under the chin, by a smooth fold-free warp (PLUGINS.md,
 * ALGORITHMS.md §15).
 *
 * Each face's edits are a displacement field built from its mesh
 * (face/lift.h), summed over the faces on a grid (filters/warp.h).  Long
 * straight lines of the background near a face (door frames, columns) are
 * anchored: the field fades to zero on them, so they stay straight.  The
 * field is then smoothed (Flow Smoothing), faded to zero at the edge of its
 * rectangle, and scaled down where it would fold (Jacobian determinant kept
 * at or above MIN_JACOBIAN), and the rectangle is resampled once, bicubic.
 *
 * Fields: `Face Lifting` 0..1 (slimming), `Face Masculinity` and
 * `Face Femininity` 0..1 (0.5 neutral; femininity is the mirror of
 * masculinity, the two add), `Double Chin Correction` 0..1,
 * `Face Lifting Depth` 0..1 (reach into the face), `Flow Smoothing` 0..1.
 * Layer: normal, alpha 1 where a pixel moved.  result.json: per face the
 * edit applied, and the warp's smallest Jacobian determinant and largest
 * shift.
 */
#include "plugins/plugin.h"

#include "core/error.h"
#include "face/analysis.h"
#include "face/lift.h"
#include "filters/line_segments.h"
#include "filters/warp.h"

#include <math.h>
#include <stdlib.h>

#define MIN_JACOBIAN 0.6f
/* Background lines: at least this long (share of the face width), on the
 * person mask at most this much on average, anchored over this distance. */
#define ANCHOR_MIN_LENGTH 0.25f
#define ANCHOR_MAX_PERSON 0.3f
#define ANCHOR_RADIUS 0.05f
#define LINE_ANALYSIS_SIDE 1024 /* long side of the line detector's copy */
#define MAX_ANCHORS 256

static float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Long straight lines of the background inside the rectangle. */
static int background_lines(const rt_image *im, const rt_face_analysis *a, int x0, int y0, int w,
                            int h, float min_len_px, rt_segment **out, int *count)
{
    *out = NULL;
    *count = 0;
    int f = 1;
    while ((w + f - 1) / f > LINE_ANALYSIS_SIDE || (h + f - 1) / f > LINE_ANALYSIS_SIDE)
        f++;
    int lw = w / f, lh = h / f;
    if (lw < 16 || lh < 16) return 0;
    float *lum = malloc((size_t)lw * lh * sizeof *lum);
    if (!lum) return rt_error(RT_ERR_NOMEM, "Face Lifting: out of memory");
    const float *R = rt_image_plane(im, 0), *G = rt_image_plane(im, 1), *B = rt_image_plane(im, 2);
#pragma omp parallel for schedule(static)
    for (int j = 0; j < lh; j++)
        for (int i = 0; i < lw; i++) {
            float s = 0;
            for (int v = 0; v < f; v++) {
                size_t r = (size_t)(y0 + j * f + v) * im->width + x0 + i * f;
                for (int u = 0; u < f; u++)
                    s += 0.2126f * R[r + u] + 0.7152f * G[r + u] + 0.0722f * B[r + u];
            }
            lum[(size_t)j * lw + i] = s / (float)(f * f);
        }
    rt_lsd_params p = {.min_length = min_len_px / (float)f,
                       .tolerance_deg = 22.5f,
                       .min_gradient = 0.02f,
                       .min_density = 0.6f};
    rt_segment *seg;
    int n;
    int err = rt_detect_line_segments(lum, lw, lh, &p, &seg, &n);
    free(lum);
    if (err) return err;
    int kept = 0;
    for (int i = 0; i < n && kept < MAX_ANCHORS; i++) {
        rt_segment s = seg[i];
        s.x1 = x0 + (s.x1 + 0.5f) * f;
        s.y1 = y0 + (s.y1 + 0.5f) * f;
        s.x2 = x0 + (s.x2 + 0.5f) * f;
        s.y2 = y0 + (s.y2 + 0.5f) * f;
        float person = 0;
        for (int k = 0; k < 9; k++) {
            float t = k / 8.0f;
            int px = (int)(s.x1 + t * (s.x2 - s.x1)), py = (int)(s.y1 + t * (s.y2 - s.y1));
            px = px < 0 ? 0 : (px >= a->width ? a->width - 1 : px);
            py = py < 0 ? 0 : (py >= a->height ? a->height - 1 : py);
            person += rt_person_mask_at(a->person, px, py) / 9.0f;
        }
        if (person <= ANCHOR_MAX_PERSON) seg[kept++] = s;
    }
    *out = seg;
    *count = kept;
    return 0;
}

static float segment_distance(float px, float py, const rt_segment *s)
{
    float dx = s->x2 - s->x1, dy = s->y2 - s->y1, l2 = dx * dx + dy * dy;
    float t = l2 > 0 ? ((px - s->x1) * dx + (py - s->y1) * dy) / l2 : 0;
    t = t < 0 ? 0 : (t > 1 ? 1 : t);
    float ex = s->x1 + t * dx - px, ey = s->y1 + t * dy - py;
    return sqrtf(ex * ex + ey * ey);
}

static int face_lifting_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    const rt_task *t = ctx->task;
    rt_face_lift_params p = {
        .slim = (float)rt_task_number(t, "Face Lifting"),
        .masculinity = clampf(2.0f * (float)(rt_task_number(t, "Face Masculinity") -
                                             rt_task_number(t, "Face Femininity")),
                              -1.0f, 1.0f),
        .double_chin = (float)rt_task_number(t, "Double Chin Correction"),
        .depth = (float)rt_task_number(t, "Face Lifting Depth"),
    };
    float flow = (float)rt_task_number(t, "Flow Smoothing");
    if (p.slim == 0 && p.masculinity == 0 && p.double_chin == 0) return 0;

    const rt_face_analysis *a;
    int err = rt_plugin_face_analysis(ctx, &a);
    if (err) return err;
    if (a->nfaces == 0) {
        rt_plugin_warn(ctx, "no face found: nothing to reshape");
        return 0;
    }
    rt_face_lift *lifts = calloc((size_t)a->nfaces, sizeof *lifts);
    if (!lifts) return rt_error(RT_ERR_NOMEM, "Face Lifting: out of memory");
    float bx0 = INFINITY, by0 = INFINITY, bx1 = -INFINITY, by1 = -INFINITY, min_width = INFINITY;
    int used = 0;
    for (int i = 0; i < a->nfaces; i++) {
        if (!rt_face_lift_prepare(&a->faces[i], &p, &lifts[i])) continue;
        float x0, y0, x1, y1;
        rt_face_lift_bounds(&lifts[i], &x0, &y0, &x1, &y1);
        bx0 = fminf(bx0, x0);
        by0 = fminf(by0, y0);
        bx1 = fmaxf(bx1, x1);
        by1 = fmaxf(by1, y1);
        min_width = fminf(min_width, lifts[i].width);
        used++;
    }
    json_t *faces = json_array();
    out->metadata = json_pack("{s:o}", "faces", faces);
    if (!used) {
        free(lifts);
        rt_plugin_warn(ctx, "no face large enough to reshape");
        return 0;
    }
    int x0 = (int)floorf(fmaxf(bx0, 0)), y0 = (int)floorf(fmaxf(by0, 0));
    int x1 = (int)ceilf(fminf(bx1, (float)ctx->image->width));
    int y1 = (int)ceilf(fminf(by1, (float)ctx->image->height));
    int step = (int)clampf(min_width / 48.0f, 2.0f, 16.0f);
    rt_warp_field *field = NULL;
    rt_segment *lines = NULL;
    int nlines = 0;
    err = rt_warp_field_create(x0, y0, x1 - x0, y1 - y0, step, &field);
    if (!err)
        err = background_lines(ctx->image, a, x0, y0, x1 - x0, y1 - y0,
                               ANCHOR_MIN_LENGTH * min_width, &lines, &nlines);
    if (err) goto done;

#pragma omp parallel for schedule(static)
    for (int b = 0; b < field->gh; b++)
        for (int c = 0; c < field->gw; c++) {
            float px = (float)(x0 + c * step), py = (float)(y0 + b * step), dx = 0, dy = 0;
            for (int i = 0; i < a->nfaces; i++)
                rt_face_lift_add(&lifts[i], px, py, &dx, &dy);
            field->dx[(size_t)b * field->gw + c] = dx;
            field->dy[(size_t)b * field->gw + c] = dy;
        }
    err = rt_warp_field_smooth(field, (0.02f + 0.2f * flow) * min_width);
    if (err) goto done;
    /* background lines stay straight: the field fades to zero on them */
    float rho = ANCHOR_RADIUS * min_width;
    if (nlines > 0) {
#pragma omp parallel for schedule(static)
        for (int b = 0; b < field->gh; b++)
            for (int c = 0; c < field->gw; c++) {
                float px = (float)(x0 + c * step), py = (float)(y0 + b * step), k = 1;
                for (int i = 0; i < nlines; i++) {
                    float d = segment_distance(px, py, &lines[i]) / rho;
                    if (d < 3) k *= 1.0f - expf(-d * d);
                }
                field->dx[(size_t)b * field->gw + c] *= k;
                field->dy[(size_t)b * field->gw + c] *= k;
            }
    }
    rt_warp_field_taper(field, fmaxf(2.0f * step, 0.05f * min_width));
    /* never fold: shrink the whole edit until the warp is one-to-one
     * with room to spare */
    float scale = 1, jac = rt_warp_field_min_jacobian(field);
    for (int it = 0; it < 20 && jac < MIN_JACOBIAN; it++) {
        rt_warp_field_scale(field, 0.85f);
        scale *= 0.85f;
        jac = rt_warp_field_min_jacobian(field);
    }
    if (scale < 1)
        rt_plugin_warn(ctx, "the reshaping was reduced to %.0f %% to keep the warp smooth",
                       100.0 * scale);
    float shift = rt_warp_field_max_shift(field);
    for (int i = 0; i < a->nfaces; i++)
        if (lifts[i].width > 0)
            json_array_append_new(
                faces, json_pack("{s:i,s:f,s:f,s:f,s:f}", "face", i, "faceLifting", (double)p.slim,
                                 "masculinity", (double)p.masculinity, "doubleChin",
                                 (double)p.double_chin, "applied", (double)scale));
    json_object_set_new(out->metadata, "minJacobian", json_real(jac));
    json_object_set_new(out->metadata, "maxShiftPx", json_real(shift));
    json_object_set_new(out->metadata, "anchoredLines", json_integer(nlines));
    if (shift < 0.01f) goto done; /* nothing visible moves */
    err = rt_warp_apply(ctx->image, field, &out->layer, &out->x, &out->y);
done:
    rt_warp_field_destroy(field);
    free(lines);
    free(lifts);
    return err;
}

const rt_plugin rt_plugin_face_lifting = {
    .name = "Face Lifting",
    .needs = RT_NEEDS_FACES | RT_NEEDS_PERSON_MASK,
    .run = face_lifting_run,
};
