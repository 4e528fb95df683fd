/* Window geometry shared by MaxPool and AvgPool (see pool.h). */
#include "nn/ops/pool.h"

#include <stdlib.h>

int nn_pool_prepare(nn_model *model, nn_node *node)
{
    if (node->n_op_inputs != 1) return nn_node_error(model, node, "expected one input");
    const nn_tensor *x = node->inputs[0];
    if (x->rank != 4 || x->shape[0] != 1)
        return nn_node_error(model, node, "input must be [1,h,w,c]");
    pool_params *p = calloc(1, sizeof *p);
    if (!p) return nn_node_error(model, node, "out of memory");
    node->params = p;
    nn_padding pad;
    int rc;
    if ((rc = nn_attr_padding(model, node, &pad)) ||
        (rc = nn_attr_nhwc_window(model, node, "ksize", &p->kh, &p->kw)) ||
        (rc = nn_attr_nhwc_window(model, node, "strides", &p->sh, &p->sw)))
        return rc;
    p->h = x->shape[1];
    p->w = x->shape[2];
    p->c = x->shape[3];
    p->oh = nn_conv_out_size(p->h, p->kh, p->sh, pad, &p->pad_top);
    p->ow = nn_conv_out_size(p->w, p->kw, p->sw, pad, &p->pad_left);
    if (p->oh < 1 || p->ow < 1) return nn_node_error(model, node, "window larger than input");
    int shape[4] = {1, p->oh, p->ow, p->c};
    nn_tensor_set_shape(node->output, 4, shape);
    return 0;
}
