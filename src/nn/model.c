/* Loading a TFJS graph model: model.json -> tensors and nodes -> prepared,
 * fused, planned graph; and running it.
 *
 * model.json holds "modelTopology" (a TensorFlow GraphDef as JSON: nodes with
 * op, inputs and attributes) and "weightsManifest" (groups of weight shards;
 * in each group the shards concatenated hold the weights one after another).
 */
#include "nn/graph.h"
#include "core/error.h"
#include "core/image.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#define INSTALL_HINT "install the models with 'make setup' or 'scripts/fetch-models'"

/* ---- model and tensor bookkeeping ---- */

nn_tensor *nn_graph_add_tensor(nn_model *m, const char *name)
{
    if (m->n_tensors == m->cap_tensors) {
        int cap = m->cap_tensors ? 2 * m->cap_tensors : 256;
        nn_tensor **grown = realloc(m->tensors, (size_t)cap * sizeof *grown);
        if (!grown) return NULL;
        m->tensors = grown;
        m->cap_tensors = cap;
    }
    nn_tensor *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->name = strdup(name);
    if (!t->name) {
        free(t);
        return NULL;
    }
    t->first_step = t->last_step = -2;
    m->tensors[m->n_tensors++] = t;
    return t;
}

static nn_tensor *find_tensor(const nn_model *m, const char *name)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i]->name, name) == 0) return m->tensors[i];
    return NULL;
}

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

int nn_shape_check(int rank, const long long *dims, size_t *size, const char **why)
{
    *size = 0;
    if (rank < 0 || rank > NN_MAX_RANK) {
        *why = "rank over 4";
        return -1;
    }
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 1 || dims[i] > NN_MAX_DIM) {
            *why = dims[i] < 1 ? "a dimension below 1" : "a dimension over 16777216";
            return -1;
        }
        /* n <= 2^28 and dims[i] <= 2^24: the product fits size_t */
        n *= (size_t)dims[i];
        if (n > NN_MAX_ELEMENTS) {
            *why = "more than 268435456 values";
            return -1;
        }
    }
    *size = n;
    return 0;
}

int nn_tensor_set_shape(nn_tensor *t, int rank, const int *shape)
{
    long long dims[NN_MAX_RANK];
    const char *why;
    int r = rank < 0 ? 0 : rank > NN_MAX_RANK ? NN_MAX_RANK : rank;
    for (int i = 0; i < r; i++)
        dims[i] = shape[i];
    int rc = nn_shape_check(rank, dims, &t->size, &why);
    t->rank = r;
    for (int i = 0; i < r; i++)
        t->shape[i] = shape[i];
    return rc;
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

nn_tensor *nn_model_new_const(nn_model *model, const char *name, int rank, const int *shape)
{
    nn_tensor *t = nn_graph_add_tensor(model, name);
    if (!t) return NULL;
    nn_tensor_set_shape(t, rank, shape);
    t->is_const = 1;
    t->dtype = NN_F32;
    t->data = rt_alloc_floats(t->size ? t->size : 1);
    if (!t->data) return NULL;
    memset(t->data, 0, (t->size ? t->size : 1) * sizeof(float));
    model->weight_bytes += t->size * sizeof(float);
    return t;
}

nn_tensor *nn_tensor_root(nn_tensor *t)
{
    while (t->alias_of)
        t = t->alias_of;
    return t;
}

int nn_node_error(const nn_model *model, const nn_node *node, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rt_error(RT_ERR_MODEL, "%s: node '%s' (%s): %s", model->path, node->name, node->type,
                    msg);
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

/* ---- loading ---- */

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    size_t n = (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

static void strip_output_suffix(char *name)
{
    char *colon = strrchr(name, ':');
    if (colon && strcmp(colon, ":0") == 0) *colon = '\0';
}

/* Placeholder: an input tensor; a batch (or any) dimension of -1 becomes 1. */
static int add_placeholder(nn_model *m, json_t *jnode, const char *name)
{
    nn_tensor *t = nn_graph_add_tensor(m, name);
    if (!t) return rt_error(RT_ERR_NOMEM, "out of memory");
    json_t *dims = json_object_get(
        json_object_get(json_object_get(json_object_get(jnode, "attr"), "shape"), "shape"), "dim");
    int shape[NN_MAX_RANK];
    int rank;
    char what[300];
    snprintf(what, sizeof what, "input '%s'", name);
    int rc = nn_shape_parse(m, dims, 1, what, &rank, shape);
    if (rc) return rc;
    if (rank < 1)
        return rt_error(RT_ERR_MODEL, "%s: input '%s' has an unsupported shape", m->path, name);
    nn_tensor_set_shape(t, rank, shape);
    return 0;
}

static int add_op_node(nn_model *m, json_t *jnode, const char *name, const char *type)
{
    nn_node *node = calloc(1, sizeof *node);
    if (!node) return rt_error(RT_ERR_NOMEM, "out of memory");
    m->nodes[m->n_nodes++] = node;
    node->name = strdup(name);
    node->type = strdup(type);
    if (!node->name || !node->type) return rt_error(RT_ERR_NOMEM, "out of memory");
    node->attr = json_object_get(jnode, "attr");
    node->op = nn_op_find(type);
    if (!node->op)
        return nn_node_error(m, node, "op %s is not implemented by the nn runtime", type);
    node->output = nn_graph_add_tensor(m, name);
    if (!node->output) return rt_error(RT_ERR_NOMEM, "out of memory");
    node->output->producer = node;
    return 0;
}

static int resolve_inputs(nn_model *m, json_t *jnodes)
{
    size_t i;
    json_t *jnode;
    int k = 0;
    json_array_foreach(jnodes, i, jnode)
    {
        const char *type = json_string_value(json_object_get(jnode, "op"));
        if (strcmp(type, "Const") == 0 || strcmp(type, "Placeholder") == 0) continue;
        nn_node *node = m->nodes[k++];
        json_t *jin = json_object_get(jnode, "input");
        size_t j;
        json_t *jname;
        json_array_foreach(jin, j, jname)
        {
            const char *in = json_string_value(jname);
            if (!in) return nn_node_error(m, node, "bad input list");
            if (in[0] == '^') continue; /* control dependency: order only, no data */
            char buf[512];
            snprintf(buf, sizeof buf, "%s", in);
            strip_output_suffix(buf);
            if (strchr(buf, ':'))
                return nn_node_error(m, node, "input %s: multi-output nodes are not supported", in);
            nn_tensor *t = find_tensor(m, buf);
            if (!t) return nn_node_error(m, node, "input %s is not defined", in);
            if (node->n_inputs == NN_MAX_INPUTS) return nn_node_error(m, node, "too many inputs");
            node->inputs[node->n_inputs++] = t;
        }
        node->n_op_inputs = node->n_inputs;
    }
    return 0;
}

static json_t *find_signature(json_t *root)
{
    json_t *sig = json_object_get(root, "signature");
    if (!json_is_object(sig))
        sig = json_object_get(json_object_get(root, "userDefinedMetadata"), "signature");
    return json_is_object(sig) ? sig : NULL;
}

static int compare_output_names(const void *a, const void *b)
{
    const nn_tensor *ta = *(nn_tensor *const *)a;
    const nn_tensor *tb = *(nn_tensor *const *)b;
    /* Natural order: Identity < Identity_1 < Identity_2 < Identity_10. */
    size_t la = strlen(ta->name), lb = strlen(tb->name);
    size_t pa = strcspn(ta->name, "0123456789"), pb = strcspn(tb->name, "0123456789");
    if (pa == pb && strncmp(ta->name, tb->name, pa) == 0 && la != lb) return la < lb ? -1 : 1;
    return strcmp(ta->name, tb->name);
}

static int set_io(nn_model *m, json_t *root)
{
    json_t *sig = find_signature(root);
    const char *key;
    json_t *value;
    nn_tensor *outs[NN_MAX_IO];
    char *out_keys[NN_MAX_IO];
    int n_out = 0;
    if (sig) {
        json_object_foreach(json_object_get(sig, "inputs"), key, value)
        {
            char buf[512];
            snprintf(buf, sizeof buf, "%s", json_string_value(json_object_get(value, "name")));
            strip_output_suffix(buf);
            nn_tensor *t = find_tensor(m, buf);
            if (!t || t->producer || t->is_const || m->n_inputs == NN_MAX_IO)
                return rt_error(RT_ERR_MODEL, "%s: signature input %s is not a placeholder",
                                m->path, buf);
            m->input_key[m->n_inputs] = strdup(key);
            m->input[m->n_inputs++] = t;
        }
        json_object_foreach(json_object_get(sig, "outputs"), key, value)
        {
            char buf[512];
            snprintf(buf, sizeof buf, "%s", json_string_value(json_object_get(value, "name")));
            strip_output_suffix(buf);
            nn_tensor *t = find_tensor(m, buf);
            if (!t || !t->producer || n_out == NN_MAX_IO)
                return rt_error(RT_ERR_MODEL, "%s: signature output %s is not a node", m->path,
                                buf);
            out_keys[n_out] = strdup(key);
            outs[n_out++] = t;
        }
    }
    if (m->n_inputs == 0) {
        for (int i = 0; i < m->n_tensors && m->n_inputs < NN_MAX_IO; i++) {
            nn_tensor *t = m->tensors[i];
            if (!t->producer && !t->is_const) {
                m->input_key[m->n_inputs] = strdup(t->name);
                m->input[m->n_inputs++] = t;
            }
        }
    }
    if (n_out == 0) {
        /* No signature: the nodes nothing reads are the outputs. */
        for (int i = 0; i < m->n_nodes; i++) {
            nn_tensor *t = m->nodes[i]->output;
            int used = 0;
            for (int j = 0; j < m->n_nodes && !used; j++)
                for (int k = 0; k < m->nodes[j]->n_inputs; k++)
                    used |= m->nodes[j]->inputs[k] == t;
            if (!used && n_out < NN_MAX_IO) {
                out_keys[n_out] = strdup(t->name);
                outs[n_out++] = t;
            }
        }
    }
    if (m->n_inputs == 0 || n_out == 0)
        return rt_error(RT_ERR_MODEL, "%s: the graph has no inputs or no outputs", m->path);
    /* Sort outputs by name, carrying their keys along. */
    nn_tensor *sorted[NN_MAX_IO];
    memcpy(sorted, outs, (size_t)n_out * sizeof *outs);
    qsort(sorted, (size_t)n_out, sizeof *sorted, compare_output_names);
    for (int i = 0; i < n_out; i++) {
        m->output[i] = sorted[i];
        for (int j = 0; j < n_out; j++)
            if (outs[j] == sorted[i]) m->output_key[i] = out_keys[j];
    }
    m->n_outputs = n_out;
    return 0;
}

/* Marks nodes that some output needs; others are dropped (dead). */
static void mark_needed(nn_tensor *t)
{
    nn_node *n = t->producer;
    if (!n || n->order == 1) return;
    n->order = 1;
    for (int i = 0; i < n->n_inputs; i++)
        mark_needed(n->inputs[i]);
}

static int visit(nn_model *m, nn_node *n, int *state, int *count)
{
    int idx = n->order;
    if (state[idx] == 2) return 0;
    if (state[idx] == 1)
        return rt_error(RT_ERR_MODEL, "%s: the graph has a cycle at node '%s'", m->path, n->name);
    state[idx] = 1;
    for (int i = 0; i < n->n_inputs; i++) {
        nn_node *p = n->inputs[i]->producer;
        if (p && !p->dead && visit(m, p, state, count)) return -1;
    }
    state[idx] = 2;
    m->exec[(*count)++] = n;
    return 0;
}

int nn_graph_sort(nn_model *m)
{
    int *state = calloc((size_t)m->n_nodes + 1, sizeof *state);
    if (!state) return rt_error(RT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < m->n_nodes; i++)
        m->nodes[i]->order = i; /* index into state while sorting */
    int count = 0, rc = 0;
    for (int i = 0; i < m->n_outputs && !rc; i++) {
        nn_node *p = m->output[i]->producer;
        if (p && !p->dead) rc = visit(m, p, state, &count);
    }
    free(state);
    if (rc) return rc;
    m->n_exec = count;
    for (int i = 0; i < count; i++)
        m->exec[i]->order = i;
    return 0;
}

static int prepare_nodes(nn_model *m)
{
    for (int i = 0; i < m->n_exec; i++) {
        nn_node *n = m->exec[i];
        for (int k = 0; k < n->n_inputs; k++) {
            if (n->inputs[k]->dtype == NN_I32 && !n->inputs[k]->is_const)
                return nn_node_error(m, n, "integer tensors are only supported as constants");
        }
        int rc = n->op->prepare(m, n);
        if (rc) return rc;
        /* every op's output within the caps (so the next op's inputs are):
         * an empty or oversized result stops the load here */
        if (n->output->size == 0)
            return nn_node_error(m, n, "empty output or a shape over the limits");
    }
    return 0;
}

static void fill_info(nn_tensor_info *info, const nn_tensor *t, const char *key)
{
    info->name = t->name;
    info->key = key ? key : t->name;
    info->rank = t->rank;
    for (int i = 0; i < t->rank; i++)
        info->shape[i] = t->shape[i];
    info->size = t->size;
}

static int load_graph(nn_model *m, json_t *root)
{
    json_t *topo = json_object_get(root, "modelTopology");
    json_t *jnodes = json_object_get(topo, "node");
    const char *format = json_string_value(json_object_get(root, "format"));
    if (!json_is_array(jnodes) || (format && strcmp(format, "graph-model") != 0))
        return rt_error(RT_ERR_MODEL, "%s: not a TensorFlow.js graph model", m->path);

    char *dir = dir_of(m->path);
    if (!dir) return rt_error(RT_ERR_NOMEM, "out of memory");
    int rc = nn_weights_load(m, json_object_get(root, "weightsManifest"), dir);
    free(dir);
    if (rc) return rc;

    m->nodes = calloc(json_array_size(jnodes) + 1, sizeof *m->nodes);
    m->exec = calloc(json_array_size(jnodes) + 1, sizeof *m->exec);
    if (!m->nodes || !m->exec) return rt_error(RT_ERR_NOMEM, "out of memory");
    size_t i;
    json_t *jnode;
    json_array_foreach(jnodes, i, jnode)
    {
        const char *name = json_string_value(json_object_get(jnode, "name"));
        const char *type = json_string_value(json_object_get(jnode, "op"));
        if (!name || !type)
            return rt_error(RT_ERR_MODEL, "%s: node %zu has no name or op", m->path, i);
        if (strcmp(type, "Const") == 0) {
            if (!find_tensor(m, name))
                return rt_error(RT_ERR_MODEL, "%s: constant '%s' has no weights", m->path, name);
            continue;
        }
        if (find_tensor(m, name))
            return rt_error(RT_ERR_MODEL, "%s: node name '%s' used twice", m->path, name);
        rc = strcmp(type, "Placeholder") == 0 ? add_placeholder(m, jnode, name)
                                              : add_op_node(m, jnode, name, type);
        if (rc) return rc;
    }
    if ((rc = resolve_inputs(m, jnodes)) || (rc = set_io(m, root))) return rc;

    /* Drop what no output needs, then order, prepare, fuse, plan. */
    for (int k = 0; k < m->n_nodes; k++)
        m->nodes[k]->order = 0;
    for (int k = 0; k < m->n_outputs; k++)
        mark_needed(m->output[k]);
    for (int k = 0; k < m->n_nodes; k++)
        m->nodes[k]->dead = m->nodes[k]->order != 1;
    if ((rc = nn_graph_sort(m)) || (rc = prepare_nodes(m)) || (rc = nn_graph_fuse(m)) ||
        (rc = nn_graph_sort(m)) || (rc = nn_graph_plan(m)))
        return rc;

    for (int k = 0; k < m->n_inputs; k++)
        fill_info(&m->input_info[k], m->input[k], m->input_key[k]);
    for (int k = 0; k < m->n_outputs; k++)
        fill_info(&m->output_info[k], m->output[k], m->output_key[k]);
    return 0;
}

static void openblas_single_thread(void)
{
    /* Our OpenMP loops call sgemm on fixed tiles; OpenBLAS's own threads
     * would compete with them.  The OpenMP build (the one CMake links) runs
     * single-threaded inside our parallel regions by itself, and there
     * openblas_set_num_threads() would set OpenMP's thread count for this
     * whole thread instead: only the pthread build is told. */
    if (openblas_get_parallel() != 2) openblas_set_num_threads(1);
}

int nn_model_load(const char *json_path, nn_model **out)
{
    static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
    *out = NULL;
    pthread_once(&blas_once, openblas_single_thread);
    FILE *f = fopen(json_path, "rb");
    if (!f) {
        int err = errno;
        if (err == ENOENT)
            return rt_error(RT_ERR_MODEL, "%s: model file not found; %s", json_path, INSTALL_HINT);
        return rt_error(RT_ERR_MODEL, "%s: %s", json_path, strerror(err));
    }
    json_error_t jerr;
    json_t *root = json_loadf(f, 0, &jerr);
    fclose(f);
    if (!root)
        return rt_error(RT_ERR_MODEL, "%s:%d: corrupt model file (%s); %s", json_path, jerr.line,
                        jerr.text, INSTALL_HINT);

    nn_model *m = calloc(1, sizeof *m);
    if (!m) {
        json_decref(root);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    m->path = strdup(json_path);
    int rc = m->path ? load_graph(m, root) : rt_error(RT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < m->n_nodes; i++)
        m->nodes[i]->attr = NULL; /* borrowed from root */
    json_decref(root);
    if (rc) {
        nn_model_destroy(m);
        return rc;
    }
    *out = m;
    return 0;
}

void nn_model_destroy(nn_model *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_nodes; i++) {
        nn_node *n = m->nodes[i];
        if (n->op && n->op->release) n->op->release(n);
        free(n->params);
        free(n->name);
        free(n->type);
        free(n);
    }
    for (int i = 0; i < m->n_tensors; i++) {
        nn_tensor *t = m->tensors[i];
        if (t->is_const && !t->alias_of) {
            rt_free(t->data);
            free(t->idata);
        }
        free(t->name);
        free(t);
    }
    for (int i = 0; i < NN_MAX_IO; i++) {
        free(m->input_key[i]);
        free(m->output_key[i]);
    }
    free(m->tensors);
    free(m->nodes);
    free(m->exec);
    rt_free(m->arena);
    rt_free(m->scratch);
    free(m->path);
    free(m);
}

/* ---- introspection ---- */

int nn_model_input_count(const nn_model *m)
{
    return m->n_inputs;
}

int nn_model_output_count(const nn_model *m)
{
    return m->n_outputs;
}

const nn_tensor_info *nn_model_input(const nn_model *m, int i)
{
    return i >= 0 && i < m->n_inputs ? &m->input_info[i] : NULL;
}

const nn_tensor_info *nn_model_output(const nn_model *m, int i)
{
    return i >= 0 && i < m->n_outputs ? &m->output_info[i] : NULL;
}

int nn_model_output_index(const nn_model *m, const char *name)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", name);
    strip_output_suffix(buf);
    for (int i = 0; i < m->n_outputs; i++)
        if (strcmp(m->output_info[i].name, buf) == 0 || strcmp(m->output_info[i].key, name) == 0)
            return i;
    return -1;
}

size_t nn_model_arena_bytes(const nn_model *m)
{
    return (m->arena_floats + m->scratch_per_thread * (size_t)m->threads) * sizeof(float);
}

size_t nn_model_weight_bytes(const nn_model *m)
{
    return m->weight_bytes;
}

const char *nn_models_dir(void)
{
    const char *env = getenv("RT_MODELS_DIR");
    if (env && *env) return env;
#ifdef RT_SOURCE_DIR
    return RT_SOURCE_DIR "/models";
#else
    return "models";
#endif
}

int nn_model_path(const char *file, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s/%s", nn_models_dir(), file);
    if (n < 0 || (size_t)n >= cap) return rt_error(RT_ERR_ARG, "model path too long: %s", file);
    return 0;
}

/* ---- running ---- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

int nn_model_run(nn_model *m, const float *const *inputs, float *const *outputs)
{
    if (!m || !inputs) return rt_error(RT_ERR_ARG, "nn_model_run: no model or inputs");
    for (int i = 0; i < m->n_inputs; i++) {
        if (!inputs[i]) return rt_error(RT_ERR_ARG, "nn_model_run: input %d is NULL", i);
        memcpy(m->input[i]->data, inputs[i], m->input[i]->size * sizeof(float));
    }
    nn_exec ex = {m->scratch, m->scratch_per_thread, m->threads};
    for (int i = 0; i < m->n_exec; i++) {
        const nn_node *n = m->exec[i];
        if (!n->op->run) continue; /* aliases (Reshape, Identity) only rename storage */
        if (m->profile) {
            double t0 = now_ms();
            n->op->run(n, &ex);
            m->exec[i]->profile_ms += now_ms() - t0;
        } else {
            n->op->run(n, &ex);
        }
    }
    for (int i = 0; outputs && i < m->n_outputs; i++)
        if (outputs[i])
            memcpy(outputs[i], nn_tensor_root(m->output[i])->data + 0,
                   m->output[i]->size * sizeof(float));
    return 0;
}

void nn_model_profile(nn_model *m, int on)
{
    m->profile = on;
    for (int i = 0; i < m->n_exec; i++)
        m->exec[i]->profile_ms = 0;
}

static int compare_profile(const void *a, const void *b)
{
    const nn_node *na = *(nn_node *const *)a, *nb = *(nn_node *const *)b;
    return na->profile_ms < nb->profile_ms ? 1 : na->profile_ms > nb->profile_ms ? -1 : 0;
}

void nn_model_profile_print(const nn_model *m, void *file)
{
    FILE *f = file;
    nn_node **sorted = malloc((size_t)m->n_exec * sizeof *sorted);
    if (!sorted) return;
    memcpy(sorted, m->exec, (size_t)m->n_exec * sizeof *sorted);
    qsort(sorted, (size_t)m->n_exec, sizeof *sorted, compare_profile);
    double total = 0;
    for (int i = 0; i < m->n_exec; i++)
        total += sorted[i]->profile_ms;
    for (int i = 0; i < m->n_exec; i++) {
        const nn_node *n = sorted[i];
        if (!n->op->run) continue;
        char shape[64] = "";
        for (int d = 0; d < n->output->rank; d++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%d", d ? "x" : "",
                     n->output->shape[d]);
        fprintf(f, "%8.3f ms %5.1f%%  %-22s %-16s %s\n", n->profile_ms,
                total > 0 ? 100 * n->profile_ms / total : 0, n->type, shape, n->name);
    }
    free(sorted);
}
