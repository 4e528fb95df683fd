/* Parsing what model.json says about a node: shapes (the one checked
 * parser), TensorFlow AttrValue attributes, base64 strings, and the
 * padding and window rules the convolution and pooling ops share. */
#include "core/error.h"
#include "nn/graph.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int json_int_value(json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        char *end;
        errno = 0;
        *out = strtoll(json_string_value(v), &end, 10);
        return (errno || *end) ? -1 : 0;
    }
    return -1;
}

int nn_shape_parse(const nn_model *m, json_t *dims, int placeholder, const char *what, int *rank,
                   int shape[NN_MAX_RANK])
{
    if (!json_is_array(dims)) return rt_error(RT_ERR_MODEL, "%s: %s has no shape", m->path, what);
    size_t n = json_array_size(dims);
    if (n > NN_MAX_RANK)
        return rt_error(RT_ERR_MODEL, "%s: %s has rank %zu (max %d)", m->path, what, n,
                        NN_MAX_RANK);
    long long v[NN_MAX_RANK];
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_array_get(dims, i);
        if (placeholder) d = json_object_get(d, "size");
        if (json_int_value(d, &v[i]) || (!placeholder && !json_is_integer(d)))
            return rt_error(RT_ERR_MODEL, "%s: %s has a bad shape", m->path, what);
        if (placeholder && v[i] == -1) v[i] = 1;
    }
    size_t size;
    const char *why;
    if (nn_shape_check((int)n, v, &size, &why))
        return rt_error(RT_ERR_MODEL, "%s: %s has a bad shape (%s)", m->path, what, why);
    *rank = (int)n;
    for (size_t i = 0; i < n; i++)
        shape[i] = (int)v[i];
    return 0;
}

/* ---- attributes (TensorFlow AttrValue as JSON) ---- */

static json_t *attr_get(const nn_node *node, const char *key)
{
    return node->attr ? json_object_get(node->attr, key) : NULL;
}

int nn_attr_ints(const nn_node *node, const char *key, int *out, int max)
{
    json_t *a = attr_get(node, key);
    json_t *list = a ? json_object_get(json_object_get(a, "list"), "i") : NULL;
    if (!json_is_array(list)) return a && json_object_get(a, "list") ? 0 : -1;
    int n = (int)json_array_size(list);
    for (int i = 0; i < n && i < max; i++) {
        long long v;
        if (json_int_value(json_array_get(list, (size_t)i), &v) || v < -NN_MAX_DIM ||
            v > NN_MAX_DIM)
            return -1;
        out[i] = (int)v;
    }
    return n;
}

int nn_attr_int_or(const nn_node *node, const char *key, int def)
{
    json_t *a = attr_get(node, key);
    long long v;
    if (!a || json_int_value(json_object_get(a, "i"), &v)) return def;
    /* beyond any real size: the op's own range checks refuse it */
    return v < -NN_MAX_DIM ? -NN_MAX_DIM - 1 : v > NN_MAX_DIM ? NN_MAX_DIM + 1 : (int)v;
}

int nn_attr_bool_or(const nn_node *node, const char *key, int def)
{
    json_t *a = attr_get(node, key);
    json_t *b = a ? json_object_get(a, "b") : NULL;
    return json_is_boolean(b) ? json_is_true(b) : def;
}

float nn_attr_float_or(const nn_node *node, const char *key, float def)
{
    json_t *a = attr_get(node, key);
    json_t *f = a ? json_object_get(a, "f") : NULL;
    return json_is_number(f) ? (float)json_number_value(f) : def;
}

static int base64_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/* TensorFlow stores string attributes base64-encoded. */
static int base64_decode(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    unsigned bits = 0;
    int nbits = 0;
    for (; *in && *in != '='; in++) {
        int v = base64_value(*in);
        if (v < 0) return -1;
        bits = (bits << 6) | (unsigned)v;
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            if (n + 1 >= cap) return -1;
            out[n++] = (char)((bits >> nbits) & 0xff);
        }
    }
    out[n] = '\0';
    return 0;
}

int nn_attr_string(const nn_node *node, const char *key, char *buf, size_t cap)
{
    json_t *a = attr_get(node, key);
    json_t *s = a ? json_object_get(a, "s") : NULL;
    if (!json_is_string(s)) return -1;
    return base64_decode(json_string_value(s), buf, cap);
}

int nn_attr_string_list(const nn_node *node, const char *key, int index, char *buf, size_t cap)
{
    json_t *a = attr_get(node, key);
    json_t *list = a ? json_object_get(json_object_get(a, "list"), "s") : NULL;
    if (!json_is_array(list)) return 0;
    int n = (int)json_array_size(list);
    if (buf && index >= 0 && index < n) {
        json_t *s = json_array_get(list, (size_t)index);
        if (!json_is_string(s) || base64_decode(json_string_value(s), buf, cap)) return -1;
    }
    return n;
}

int nn_conv_out_size(int in, int kernel, int stride, nn_padding pad, int *pad_before)
{
    int out, total;
    if (pad == NN_PAD_SAME) {
        out = (in + stride - 1) / stride;
        total = (out - 1) * stride + kernel - in;
        if (total < 0) total = 0;
    } else {
        out = (in - kernel + stride) / stride;
        total = 0;
    }
    *pad_before = total / 2;
    return out;
}

int nn_attr_padding(const nn_model *model, const nn_node *node, nn_padding *out)
{
    char pad[32];
    if (nn_attr_string(node, "padding", pad, sizeof pad))
        return nn_node_error(model, node, "missing padding attribute");
    if (strcmp(pad, "SAME") == 0)
        *out = NN_PAD_SAME;
    else if (strcmp(pad, "VALID") == 0)
        *out = NN_PAD_VALID;
    else
        return nn_node_error(model, node, "padding %s is not supported", pad);
    char fmt[16];
    if (nn_attr_string(node, "data_format", fmt, sizeof fmt) == 0 && strcmp(fmt, "NHWC") != 0)
        return nn_node_error(model, node, "data_format %s is not supported (NHWC only)", fmt);
    return 0;
}

int nn_attr_nhwc_window(const nn_model *model, const nn_node *node, const char *key, int *h, int *w)
{
    int v[4];
    int n = nn_attr_ints(node, key, v, 4);
    if (n <= 0) {
        *h = *w = 1;
        return 0;
    }
    if (n != 4 || v[0] != 1 || v[3] != 1)
        return nn_node_error(model, node, "%s must be [1,h,w,1]", key);
    *h = v[1];
    *w = v[2];
    if (*h < 1 || *w < 1 || *h > NN_MAX_DIM || *w > NN_MAX_DIM)
        return nn_node_error(model, node, "%s must be 1..%d", key, NN_MAX_DIM);
    return 0;
}
