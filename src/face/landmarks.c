#include "face/landmarks.h"

#include "face/regions.h"
#include "face/topology.h"

#include <math.h>

/* Where the eye line (pupil to pupil, extended) leaves the face's outline
 * on each side: the side points the API asks for "at the face edge by the
 * eyes".  The outline is the visible silhouette (face/regions.h), so a
 * turned face's far side point sits on its visible edge.  Falls back to the
 * oval's cheek points (234, 454) if the line misses it. */
static void side_points(const rt_face *f, rt_point2 *right, rt_point2 *left)
{
    rt_point2 a = f->eye[RT_EYE_RIGHT].iris_center, b = f->eye[RT_EYE_LEFT].iris_center;
    double dx = b.x - a.x, dy = b.y - a.y;
    double tmin = INFINITY, tmax = -INFINITY;
    rt_point2 hull[RT_MESH_BASE_POINTS + 1];
    int n = rt_face_outline(f, hull);
    for (int i = 0; i < n; i++) {
        rt_point2 p = hull[i], q = hull[(i + 1) % n];
        /* a + t (b - a) = p + s (q - p) */
        double ex = q.x - p.x, ey = q.y - p.y;
        double den = dx * ey - dy * ex;
        if (fabs(den) < 1e-12) continue;
        double t = ((p.x - a.x) * ey - (p.y - a.y) * ex) / den;
        double s = ((p.x - a.x) * dy - (p.y - a.y) * dx) / den;
        if (s < 0 || s > 1) continue;
        if (t < tmin) tmin = t;
        if (t > tmax) tmax = t;
    }
    if (tmin < 0) {
        right->x = (float)(a.x + tmin * dx);
        right->y = (float)(a.y + tmin * dy);
    } else {
        *right = rt_face_point(f, 234);
    }
    if (tmax > 1) {
        left->x = (float)(a.x + tmax * dx);
        left->y = (float)(a.y + tmax * dy);
    } else {
        *left = rt_face_point(f, 454);
    }
}

void rt_face_api_landmarks(const rt_face *f, rt_point2 out[RT_API_LANDMARKS])
{
    side_points(f, &out[0], &out[1]);
    out[2] = rt_face_point(f, RT_MESH_NOSE_TIP);
    out[3] = f->eye[RT_EYE_RIGHT].iris_center;
    out[4] = f->eye[RT_EYE_LEFT].iris_center;
    rt_point2 top = rt_face_point(f, RT_MESH_UPPER_LIP_TOP),
              inner = rt_face_point(f, RT_MESH_UPPER_LIP_INNER);
    out[5].x = (top.x + inner.x) / 2;
    out[5].y = (top.y + inner.y) / 2;
    out[6] = rt_face_point(f, RT_MESH_MOUTH_RIGHT);
    out[7] = rt_face_point(f, RT_MESH_MOUTH_LEFT);
    out[8] = rt_face_point(f, RT_MESH_CHIN);
    out[9] = rt_face_point(f, RT_MESH_GLABELLA);
}
