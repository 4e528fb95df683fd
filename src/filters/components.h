/* Connected components of a binary map (8-connectivity), with each
 * component's area and bounding box: how Clean Backdrop tells a dirt speck
 * or scuff (small, compact) from structure (a long edge, a prop, the
 * person's outline) among the pixels that stand out from the backdrop.
 *
 * Ownership: rt_components_label() returns a malloc'd array the caller
 * frees with free().  Serial, so labels are the same for any thread count.
 */
#ifndef RT_FILTERS_COMPONENTS_H
#define RT_FILTERS_COMPONENTS_H

typedef struct rt_component {
    int x0, y0, x1, y1; /* bounding box, inclusive */
    int area;           /* pixels */
    int flags;          /* free for the caller (0 on return) */
} rt_component;

/* Labels the non-zero pixels of map (w x h, row stride w): labels[i] = 0 on
 * background, k + 1 on component k; components are numbered in raster
 * order of their first pixel.  labels is a caller buffer of w * h ints.
 * Errors: RT_ERR_NOMEM, RT_ERR_ARG. */
int rt_components_label(const unsigned char *map, int w, int h, int *labels, rt_component **out,
                        int *count);

#endif
