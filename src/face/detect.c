#include "face/detect.h"

#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Model logits are clipped like MediaPipe's TensorsToDetections
 * (score_clipping_thresh) before the sigmoid. */
#define LOGIT_CLIP 100.0f

static float sigmoid(float x)
{
    if (x > LOGIT_CLIP) x = LOGIT_CLIP;
    if (x < -LOGIT_CLIP) x = -LOGIT_CLIP;
    return 1.0f / (1.0f + expf(-x));
}

static int push(rt_face_detection **list, int *n, int *cap, const rt_face_detection *d)
{
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        rt_face_detection *l = realloc(*list, (size_t)nc * sizeof *l);
        if (!l) return rt_error(RT_ERR_NOMEM, "out of memory");
        *list = l;
        *cap = nc;
    }
    (*list)[(*n)++] = *d;
    return 0;
}

/* One candidate from a regressor row [dx, dy, w, h, 6 x (kx, ky)] (input
 * pixels, offsets from the anchor centre (ax, ay)), mapped to the image. */
static rt_face_detection decode(const float *reg, float ax, float ay, float score, double x0,
                                double y0, double scale)
{
    rt_face_detection d;
    double cx = ax + reg[0], cy = ay + reg[1], w = reg[2], h = reg[3];
    d.score = score;
    d.weight = score;
    d.x1 = (float)(x0 + (cx - w / 2) * scale);
    d.y1 = (float)(y0 + (cy - h / 2) * scale);
    d.x2 = (float)(x0 + (cx + w / 2) * scale);
    d.y2 = (float)(y0 + (cy + h / 2) * scale);
    for (int k = 0; k < RT_KP_COUNT; k++) {
        d.kp[k].x = (float)(x0 + (ax + reg[4 + 2 * k]) * scale);
        d.kp[k].y = (float)(y0 + (ay + reg[5 + 2 * k]) * scale);
    }
    return d;
}

/* BlazeFace anchors: stride 16 on a 16x16 grid with 2 anchors per cell
 * (512), then stride 32 on 8x8 with 6 per cell (384); order row, column,
 * anchor. */
static void blazeface_anchor(int i, float *ax, float *ay)
{
    int stride, cells, per, j;
    if (i < 512) {
        stride = 16, cells = 16, per = 2, j = i;
    } else {
        stride = 32, cells = 8, per = 6, j = i - 512;
    }
    int cell = j / per;
    *ax = (float)stride * ((float)(cell % cells) + 0.5f);
    *ay = (float)stride * ((float)(cell / cells) + 0.5f);
}

int rt_face_detect_view(nn_model *model, rt_face_detector kind, const rt_face_pyramid *pyr,
                        double x0, double y0, double side, float min_score,
                        rt_face_detection **list, int *n, int *cap)
{
    const nn_tensor_info *in = nn_model_input(model, 0);
    const int size = in->shape[1];
    float *input = malloc(in->size * sizeof *input);
    float *outs[4] = {0};
    int nout = nn_model_output_count(model);
    int err = 0;
    if (!input || nout > 4) {
        err = rt_error(RT_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < nout; i++)
        if (!(outs[i] = malloc(nn_model_output(model, i)->size * sizeof(float)))) {
            err = rt_error(RT_ERR_NOMEM, "out of memory");
            goto done;
        }
    double scale = side / size;
    rt_affine to_image = {{scale, 0, x0, 0, scale, y0}};
    /* MediaPipe's detectors take RGB in [-1, 1] */
    rt_face_sample_crop(pyr, &to_image, size, size, 2.0f, -1.0f, input);
    if ((err = nn_model_run(model, (const float *const[]){input}, outs))) goto done;

    rt_face_detection d;
    if (kind == RT_DETECTOR_BLAZEFACE) {
        const int li[2] = {nn_model_output_index(model, "Identity"),
                           nn_model_output_index(model, "Identity_1")};
        const int ri[2] = {nn_model_output_index(model, "Identity_2"),
                           nn_model_output_index(model, "Identity_3")};
        if (li[0] < 0 || li[1] < 0 || ri[0] < 0 || ri[1] < 0) {
            err = rt_error(RT_ERR_MODEL, "blazeface: unexpected outputs");
            goto done;
        }
        for (int i = 0; i < 896 && !err; i++) {
            int g = i < 512 ? 0 : 1, j = i < 512 ? i : i - 512;
            float score = sigmoid(outs[li[g]][j]);
            if (score < min_score) continue;
            float ax, ay;
            blazeface_anchor(i, &ax, &ay);
            d = decode(outs[ri[g]] + (size_t)j * 16, ax, ay, score, x0, y0, scale);
            err = push(list, n, cap, &d);
        }
    } else {
        int oi = nn_model_output_index(model, "Identity");
        if (oi < 0) {
            err = rt_error(RT_ERR_MODEL, "full-range detector: unexpected outputs");
            goto done;
        }
        /* one 48x48 grid, stride 4, one anchor per cell; rows [logit, 16] */
        const int cells = size / 4;
        for (int i = 0; i < cells * cells && !err; i++) {
            const float *row = outs[oi] + (size_t)i * 17;
            float score = sigmoid(row[0]);
            if (score < min_score) continue;
            float ax = 4.0f * ((float)(i % cells) + 0.5f), ay = 4.0f * ((float)(i / cells) + 0.5f);
            d = decode(row + 1, ax, ay, score, x0, y0, scale);
            err = push(list, n, cap, &d);
        }
    }
done:
    free(input);
    for (int i = 0; i < 4; i++)
        free(outs[i]);
    return err;
}

static float area(const rt_face_detection *d)
{
    return (d->x2 - d->x1) * (d->y2 - d->y1);
}

static float overlap(const rt_face_detection *a, const rt_face_detection *b, float *iou)
{
    float ix = fminf(a->x2, b->x2) - fmaxf(a->x1, b->x1);
    float iy = fminf(a->y2, b->y2) - fmaxf(a->y1, b->y1);
    float inter = ix > 0 && iy > 0 ? ix * iy : 0.0f;
    float uni = area(a) + area(b) - inter;
    *iou = uni > 0 ? inter / uni : 0.0f;
    float small = fminf(area(a), area(b));
    return small > 0 ? inter / small : 0.0f;
}

static int by_score(const void *pa, const void *pb)
{
    const rt_face_detection *a = pa, *b = pb;
    if (a->score != b->score) return a->score < b->score ? 1 : -1;
    /* deterministic order for equal scores */
    if (a->x1 != b->x1) return a->x1 < b->x1 ? -1 : 1;
    return a->y1 < b->y1 ? -1 : (a->y1 > b->y1);
}

int rt_face_detections_merge(rt_face_detection *d, int n, float iou_threshold)
{
    if (n <= 0) return 0;
    qsort(d, (size_t)n, sizeof *d, by_score);
    char *used = calloc((size_t)n + 1, 1);
    if (!used) return n; /* unmerged but valid */
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (used[i]) continue;
        /* sum of score-weighted members, MediaPipe's "weighted" suppression */
        rt_face_detection best = d[i];
        double wsum = 0, box[4] = {0}, kp[RT_KP_COUNT][2] = {{0}};
        for (int j = i; j < n; j++) {
            if (used[j]) continue;
            float iou;
            float cover = overlap(&best, &d[j], &iou);
            /* a candidate mostly inside the best one is a partial view of it */
            if (j != i && iou < iou_threshold && cover < 0.7f) continue;
            used[j] = 1;
            double w = d[j].score;
            wsum += w;
            box[0] += w * d[j].x1;
            box[1] += w * d[j].y1;
            box[2] += w * d[j].x2;
            box[3] += w * d[j].y2;
            for (int k = 0; k < RT_KP_COUNT; k++) {
                kp[k][0] += w * d[j].kp[k].x;
                kp[k][1] += w * d[j].kp[k].y;
            }
        }
        best.x1 = (float)(box[0] / wsum);
        best.y1 = (float)(box[1] / wsum);
        best.x2 = (float)(box[2] / wsum);
        best.y2 = (float)(box[3] / wsum);
        for (int k = 0; k < RT_KP_COUNT; k++) {
            best.kp[k].x = (float)(kp[k][0] / wsum);
            best.kp[k].y = (float)(kp[k][1] / wsum);
        }
        best.weight = (float)wsum;
        d[kept++] = best;
    }
    free(used);
    return kept;
}

/* Smallest face (detector box width, pixels of the input) each detector
 * finds reliably: measured on the group photo scaled down step by step
 * (README.md "Detection"). */
#define FULL_RANGE_MIN_FACE 18.0
#define BLAZEFACE_MIN_FACE 26.0
/* Smallest face searched for: 24 pixels, or 1/48 of the long side on large
 * images (a 24 MP group photo has faces of 150 px and more). */
#define MIN_FACE_PX 24.0
#define MIN_FACE_FRACTION (1.0 / 48.0)
/* Scanning stops once the faces found so far are this many times larger
 * than the next level's smallest face: a portrait's background holds no
 * faces a retoucher would count that small next to the subject. */
#define SIZE_RANGE 3.0

typedef struct scan {
    rt_face_detection *list;
    int n, cap;
} scan;

/* Drops the candidates of one tile whose box runs past a tile edge that is
 * inside the image: partial faces, seen whole by a neighbouring tile. */
static void drop_cut_faces(scan *s, int from, double x0, double y0, double side, double W, double H)
{
    int k = from;
    for (int i = from; i < s->n; i++) {
        const rt_face_detection *d = &s->list[i];
        double slack = 0.1 * (d->x2 - d->x1);
        int cut = (x0 > 0 && d->x1 < x0 - slack) || (y0 > 0 && d->y1 < y0 - slack) ||
                  (x0 + side < W && d->x2 > x0 + side + slack) ||
                  (y0 + side < H && d->y2 > y0 + side + slack);
        if (!cut) s->list[k++] = *d;
    }
    s->n = k;
}

/* Tile origins along one axis: n tiles of `side` covering [0, len) with at
 * least `overlap` shared between neighbours; one centred tile when len <=
 * side. */
static int tile_origins(double len, double side, double overlap, double *org, int max)
{
    if (len <= side) {
        org[0] = (len - side) / 2;
        return 1;
    }
    int n = (int)ceil((len - side) / (side - overlap)) + 1;
    if (n > max) n = max;
    for (int i = 0; i < n; i++)
        org[i] = (len - side) * i / (n - 1);
    return n;
}

static float smallest_face(const scan *s, float min_score)
{
    float w = INFINITY;
    for (int i = 0; i < s->n; i++)
        if (s->list[i].score >= min_score) w = fminf(w, s->list[i].x2 - s->list[i].x1);
    return w;
}

int rt_face_detect(rt_face_models *m, const rt_face_pyramid *pyr, float min_score,
                   rt_face_detection **out, int *count)
{
    *out = NULL;
    *count = 0;
    scan s = {0};
    const double W = pyr->width, H = pyr->height, L = W > H ? W : H;
    /* the whole image, letterboxed into a square: large and mid-size faces */
    int err = rt_face_detect_view(m->blazeface, RT_DETECTOR_BLAZEFACE, pyr, (W - L) / 2,
                                  (H - L) / 2, L, min_score, &s.list, &s.n, &s.cap);
    double whole_min = L / 256.0 * BLAZEFACE_MIN_FACE;
    double min_face = fmax(MIN_FACE_PX, L * MIN_FACE_FRACTION);
    /* then tiles for smaller faces, one octave of face sizes per level,
     * coarse to fine: level k finds faces from min_face * 2^k up */
    int levels = 0;
    while (min_face * pow(2.0, levels) < whole_min)
        levels++;
    for (int k = levels - 1; k >= 0 && !err; k--) {
        double face = min_face * pow(2.0, k);
        if (s.n > 0) {
            s.n = rt_face_detections_merge(s.list, s.n, 0.3f);
            if (smallest_face(&s, min_score) > SIZE_RANGE * 2 * face) break;
        }
        double side = 192.0 * face / FULL_RANGE_MIN_FACE;
        /* faces up to twice this level's size (the next level's) must fit
         * wholly in one tile, with a margin */
        double overlap = 2.4 * face;
        double ox[64], oy[64];
        int nx = tile_origins(W, side, overlap, ox, 64),
            ny = tile_origins(H, side, overlap, oy, 64);
        for (int j = 0; j < ny && !err; j++)
            for (int i = 0; i < nx && !err; i++) {
                int from = s.n;
                err = rt_face_detect_view(m->detector_full, RT_DETECTOR_FULL_RANGE, pyr, ox[i],
                                          oy[j], side, min_score, &s.list, &s.n, &s.cap);
                drop_cut_faces(&s, from, ox[i], oy[j], side, W, H);
            }
    }
    if (err) {
        free(s.list);
        return err;
    }
    s.n = rt_face_detections_merge(s.list, s.n, 0.3f);
    *out = s.list;
    *count = s.n;
    return 0;
}
