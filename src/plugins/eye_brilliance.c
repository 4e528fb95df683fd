/* Eye Brilliance: a clearer iris (PLUGINS.md, ALGORITHMS.md §9): detail
 * and local contrast in the iris annulus, a mild lift of the lower iris
 * (opposite the usual catchlight), slight vibrance and a slightly deeper
 * limbal ring; the pupil, the catchlights and the sclera are kept.  Both
 * eyes get the same settings.
 *
 * Per open eye, on the iris' own rectangle: the iris circle refined on the
 * limbus and the pupil radius from the radial profile (face/eye_regions.h);
 * annulus weight A from just outside the pupil to 0.95 of the iris
 * radius, zero on catchlights (bright blobs, dilated).  With Blend s in
 * [0, 2]:
 *   detail   Y += 0.4 s * A * coring(Y - blur(Y, 0.08 R)), coring below
 *            1-2 noise levels (a dim shot's noise is not boosted; the
 *            noise is the finest band's, the same for both eyes);
 *   lift     up to 0.2 s EV, growing toward the lower iris edge (the
 *            face's own "down", from its roll);
 *   vibrance chroma x (1 + 0.15 s), less on already saturated irises;
 *   ring     -0.05 s of lightness on 0.82-1.0 R.
 * The layer holds the edited colour with the visible iris as alpha.
 * First version: the blur is Gaussian, not edge-aware (the annulus weight
 * stops before the pupil and limbus edges instead); no catchlight boost.
 */
#include "plugins/plugin.h"

#include "core/error.h"
#include "face/analysis.h"
#include "face/eye_regions.h"
#include "face/roi_filters.h"

#include <math.h>
#include <stdlib.h>

#define MAX_EYES 256
#define IRIS_ALPHA_RADIUS 1.02f /* the layer reaches just past the limbus */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

typedef struct eye_job {
    rt_eye_geometry g;
    rt_roi roi;
    float down_x, down_y; /* the face's "down" in the image */
    float sigma_n;        /* noise level: the lower of the face's two eyes */
    int face;
} eye_job;

/* Noise of the iris: MAD of its finest band (Y minus a 0.7 px blur) in
 * the inner 0.9 of the disc, as a standard deviation.  The same photo has
 * the same noise in both eyes; a sharper eye only has more detail, so the
 * face takes the lower of the two. */
static float iris_noise(const rt_image *img, const eye_job *e)
{
    const rt_roi r = e->roi;
    const size_t n = (size_t)r.w * r.h;
    float *buf = malloc(5 * n * sizeof *buf);
    if (!buf) return 0.002f;
    float *Y = buf, *B = buf + n, *tmp = buf + 2 * n, *V = buf + 3 * n, *d = buf + 4 * n;
    rt_roi_ycc(img, r.x0, r.y0, r.w, r.h, Y, B, tmp);
    for (size_t i = 0; i < n; i++)
        B[i] = Y[i];
    rt_roi_box_blur3(B, r.w, r.h, 0.7f, tmp);
    size_t k = 0;
    if (rt_eye_iris_mask(&e->g, 0.9f, r.x0, r.y0, r.w, r.h, V, (size_t)r.w) == 0)
        for (size_t i = 0; i < n; i++)
            if (V[i] > 0.5f && Y[i] < 0.7f) d[k++] = fabsf(Y[i] - B[i]);
    float sigma = 0.002f;
    if (k > 8) {
        qsort(d, k, sizeof *d, cmp_float);
        sigma = fmaxf(0.002f, 1.4826f * d[k / 2]);
    }
    free(buf);
    return sigma;
}

static int treat_eye(const rt_image *img, const eye_job *e, float s, rt_image *layer, int lx,
                     int ly)
{
    const rt_roi r = e->roi;
    const size_t n = (size_t)r.w * r.h;
    float *buf = malloc(10 * n * sizeof *buf);
    if (!buf) return rt_error(RT_ERR_NOMEM, "out of memory for an iris");
    float *V = buf, *Y = buf + n, *Cb = buf + 2 * n, *Cr = buf + 3 * n, *B = buf + 4 * n,
          *C = buf + 5 * n, *tmp = buf + 6 * n, *Ro = buf + 7 * n, *Go = buf + 8 * n,
          *Bo = buf + 9 * n;
    int err = rt_eye_iris_mask(&e->g, IRIS_ALPHA_RADIUS, r.x0, r.y0, r.w, r.h, V, (size_t)r.w);
    if (err) {
        free(buf);
        return err;
    }
    rt_roi_ycc(img, r.x0, r.y0, r.w, r.h, Y, Cb, Cr);
    const float R = e->g.iris_radius, cx = e->g.iris_center.x - (float)r.x0,
                cy = e->g.iris_center.y - (float)r.y0;
    const float rp = rt_eye_pupil_radius(img, &e->g);
    /* the iris' typical level, for the catchlight threshold */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (V[i] > 0.5f) tmp[k++] = Y[i];
    if (k < 16) {
        free(buf);
        return 0;
    }
    qsort(tmp, k, sizeof *tmp, cmp_float);
    const float ymed = tmp[k / 2];
    const float hi = fmaxf(0.7f, ymed + 0.3f);
    for (size_t i = 0; i < n; i++)
        C[i] = rt_smoothstep(hi - 0.05f, hi + 0.05f, Y[i]);
    int rc = (int)lrintf(0.06f * R);
    rt_roi_max_filter(C, r.w, r.h, rc < 1 ? 1 : rc, tmp);
    /* detail band and its noise level in the annulus */
    for (size_t i = 0; i < n; i++)
        B[i] = Y[i];
    rt_roi_box_blur3(B, r.w, r.h, fmaxf(0.6f, 0.08f * R), tmp);
    float *A = tmp; /* reuse: the annulus weight */
    k = 0;
    for (int j = 0; j < r.h; j++)
        for (int i = 0; i < r.w; i++) {
            size_t q = (size_t)j * r.w + i;
            float rr = hypotf((float)i + 0.5f - cx, (float)j + 0.5f - cy);
            A[q] = rt_smoothstep(rp, rp + 0.12f * R, rr) *
                   (1.0f - rt_smoothstep(0.8f * R, 0.95f * R, rr)) * V[q] * (1.0f - C[q]);
        }
    const float sigma_n = e->sigma_n;
    const float k1 = 0.4f * s, k2 = 0.2f * s, k3 = 0.15f * s, k4 = 0.05f * s;
    for (int j = 0; j < r.h; j++)
        for (int i = 0; i < r.w; i++) {
            size_t q = (size_t)j * r.w + i;
            float dx = (float)i + 0.5f - cx, dy = (float)j + 0.5f - cy;
            float rr = hypotf(dx, dy);
            float a = A[q];
            float d = Y[q] - B[q];
            float cored = d * rt_smoothstep(0.5f * sigma_n, 1.5f * sigma_n, fabsf(d));
            float y = Y[q] + k1 * a * cored;
            float down = (dx * e->down_x + dy * e->down_y) / R;
            float lift = exp2f(k2 * a * rt_smoothstep(-0.1f, 0.7f, down));
            float g = powf(lift, 1.0f / 2.2f); /* linear gain on encoded values */
            float chroma = hypotf(Cb[q], Cr[q]);
            float vib = 1.0f + k3 * a * (1.0f - rt_smoothstep(0.05f, 0.25f, chroma));
            float ring = rt_smoothstep(0.82f * R, 0.9f * R, rr) *
                         (1.0f - rt_smoothstep(0.98f * R, 1.02f * R, rr)) * V[q] * (1.0f - C[q]);
            float dark = 1.0f - k4 * ring;
            float cb = Cb[q] * vib * g * dark, cr = Cr[q] * vib * g * dark;
            rt_ycc_to_rgb(y * g * dark, cb, cr, &Ro[q], &Go[q], &Bo[q]);
            Ro[q] = fminf(fmaxf(Ro[q], 0.0f), 1.0f);
            Go[q] = fminf(fmaxf(Go[q], 0.0f), 1.0f);
            Bo[q] = fminf(fmaxf(Bo[q], 0.0f), 1.0f);
        }
    rt_roi_layer_put(layer, lx, ly, r, Ro, Go, Bo, V);
    free(buf);
    return 0;
}

static int eye_brilliance_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    const float s = (float)rt_task_number(ctx->task, "Alpha1");
    if (!(s > 0.0f)) return 0;
    const rt_face_analysis *a;
    int err = rt_plugin_face_analysis(ctx, &a);
    if (err) return err;
    if (a->nfaces == 0) {
        rt_plugin_warn(ctx, "no face found: irises unchanged");
        return 0;
    }
    const rt_image *img = ctx->image;
    eye_job *eyes = malloc(MAX_EYES * sizeof *eyes);
    rt_roi *rois = malloc(MAX_EYES * sizeof *rois);
    if (!eyes || !rois) {
        free(eyes);
        free(rois);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    int neyes = 0;
    for (int f = 0; f < a->nfaces && neyes < MAX_EYES; f++)
        for (int e = 0; e < 2 && neyes < MAX_EYES; e++) {
            eye_job *j = &eyes[neyes];
            rt_eye_geometry_init(&a->faces[f], e, &j->g);
            /* too closed, or an iris too small to have detail to show */
            if (j->g.openness < 0.15f || j->g.iris_radius < 4.0f) continue;
            rt_eye_refine_iris(img, &j->g);
            j->down_x = sinf(a->faces[f].roll);
            j->down_y = cosf(a->faces[f].roll);
            float R = j->g.iris_radius * IRIS_ALPHA_RADIUS + 2.0f;
            int x0 = (int)floorf(j->g.iris_center.x - R), y0 = (int)floorf(j->g.iris_center.y - R);
            int x1 = (int)ceilf(j->g.iris_center.x + R), y1 = (int)ceilf(j->g.iris_center.y + R);
            x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0;
            x1 = x1 > img->width ? img->width : x1, y1 = y1 > img->height ? img->height : y1;
            if (x1 - x0 < 4 || y1 - y0 < 4) continue;
            j->roi = (rt_roi){x0, y0, x1 - x0, y1 - y0};
            j->sigma_n = iris_noise(img, j);
            /* the face's eyes share the lower noise level */
            if (e == 1 && neyes > 0 && eyes[neyes - 1].g.inner_corner.x != j->g.inner_corner.x &&
                eyes[neyes - 1].face == f) {
                float m = fminf(eyes[neyes - 1].sigma_n, j->sigma_n);
                eyes[neyes - 1].sigma_n = j->sigma_n = m;
            }
            j->face = f;
            rois[neyes++] = j->roi;
        }
    if (neyes == 0) {
        rt_plugin_warn(ctx, "no open eye found: irises unchanged");
        free(eyes);
        free(rois);
        return 0;
    }
    rt_roi u = rt_roi_union(rois, neyes);
    rt_image *layer = NULL;
    err = rt_image_create(u.w, u.h, 4, &layer);
    for (int i = 0; i < neyes && !err; i++)
        err = treat_eye(img, &eyes[i], s, layer, u.x0, u.y0);
    free(eyes);
    free(rois);
    if (err) {
        rt_image_destroy(layer);
        return err;
    }
    out->layer = layer;
    out->x = u.x0;
    out->y = u.y0;
    return 0;
}

const rt_plugin rt_plugin_eye_brilliance = {
    .name = "Eye Brilliance",
    .needs = RT_NEEDS_FACES,
    .run = eye_brilliance_run,
};
