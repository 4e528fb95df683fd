#include "filters/crop_geometry.h"

#include <math.h>

void rt_crop_geometry(const rt_crop_request *req, rt_rotate_crop *rc)
{
    const double W = req->width, H = req->height;
    const double a = req->angle_deg * M_PI / 180.0;
    const double c = fabs(cos(a)), s = fabs(sin(a));
    const double r = req->aspect > 0 ? req->aspect : W / H;
    /* largest centred half-width: w*c + h*s <= W/2 and w*s + h*c <= H/2, h = w/r */
    double wmax = fmin((W / 2) / (c + s / r), (H / 2) / (s + c / r));
    double area = req->area > 0 ? (req->area < 1 ? req->area : 1) : 1;
    double hw = wmax * sqrt(area);
    /* whole pixels, never larger than what fits */
    int ow = (int)floor(2 * hw + 1e-6), oh = (int)floor(2 * hw / r + 1e-6);
    if (ow < 1) ow = 1;
    if (oh < 1) oh = 1;
    double w2 = ow / 2.0, h2 = oh / 2.0;
    double ex = w2 * c + h2 * s, ey = w2 * s + h2 * c;
    double cx = ex + req->center_x * (W - 2 * ex);
    double cy = ey + req->center_y * (H - 2 * ey);
    /* a crop of the whole, unrotated image stays exactly in place */
    if (fabs(req->angle_deg) < 1e-9) {
        cx = floor(cx - w2 + 0.5) + w2;
        cy = floor(cy - h2 + 0.5) + h2;
        if (cx - w2 < 0) cx = w2;
        if (cy - h2 < 0) cy = h2;
    }
    rc->angle_deg = req->angle_deg;
    rc->cx = cx;
    rc->cy = cy;
    rc->out_w = ow;
    rc->out_h = oh;
}
