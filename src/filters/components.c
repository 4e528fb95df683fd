#include "filters/components.h"

#include "core/error.h"
#include "core/image.h"

#include <stdlib.h>
#include <string.h>

int rt_components_label(const unsigned char *map, int w, int h, int *labels, rt_component **out,
                        int *count)
{
    *out = NULL;
    *count = 0;
    if (w <= 0 || h <= 0 || !map || !labels) return rt_error(RT_ERR_ARG, "components: bad plane");
    size_t n = (size_t)w * h;
    memset(labels, 0, n * sizeof *labels);
    /* an explicit stack: flood fill without recursion depth limits */
    int *stack = malloc(n * sizeof *stack);
    int cap = 64, nc = 0;
    rt_component *comps = malloc((size_t)cap * sizeof *comps);
    if (!stack || !comps) {
        free(stack);
        free(comps);
        return rt_error(RT_ERR_NOMEM, "out of memory for connected components");
    }
    for (size_t start = 0; start < n; start++) {
        if (!map[start] || labels[start]) continue;
        if (nc == cap) {
            rt_component *grown = realloc(comps, (size_t)cap * 2 * sizeof *comps);
            if (!grown) {
                free(stack);
                free(comps);
                return rt_error(RT_ERR_NOMEM, "out of memory for connected components");
            }
            comps = grown;
            cap *= 2;
        }
        rt_component *c = &comps[nc++];
        int sx = (int)(start % (size_t)w), sy = (int)(start / (size_t)w);
        *c = (rt_component){sx, sy, sx, sy, 0, 0};
        size_t top = 0;
        stack[top++] = (int)start;
        labels[start] = nc;
        while (top > 0) {
            int i = stack[--top];
            int x = i % w, y = i / w;
            c->area++;
            if (x < c->x0) c->x0 = x;
            if (x > c->x1) c->x1 = x;
            if (y < c->y0) c->y0 = y;
            if (y > c->y1) c->y1 = y;
            for (int dy = -1; dy <= 1; dy++) {
                int yy = y + dy;
                if (yy < 0 || yy >= h) continue;
                for (int dx = -1; dx <= 1; dx++) {
                    int xx = x + dx;
                    if (xx < 0 || xx >= w) continue;
                    size_t j = (size_t)yy * w + xx;
                    if (map[j] && !labels[j]) {
                        labels[j] = nc;
                        stack[top++] = (int)j;
                    }
                }
            }
        }
    }
    free(stack);
    *out = comps;
    *count = nc;
    return 0;
}
