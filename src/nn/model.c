/* Loading a TFJS graph model: model.json -> tensors and nodes -> prepared,
 * fused, planned graph (parsing helpers in parse.c, tensors in tensor.c,
 * running in run.c).
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

static nn_tensor *find_tensor(const nn_model *m, const char *name)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i]->name, name) == 0) return m->tensors[i];
    return NULL;
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
            if (!t || !t->producer || n_out == NN_MAX_IO) {
                for (int i = 0; i < n_out; i++)
                    free(out_keys[i]);
                return rt_error(RT_ERR_MODEL, "%s: signature output %s is not a node", m->path,
                                buf);
            }
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
    if (m->n_inputs == 0 || n_out == 0) {
        for (int i = 0; i < n_out; i++)
            free(out_keys[i]);
        return rt_error(RT_ERR_MODEL, "%s: the graph has no inputs or no outputs", m->path);
    }
    /* Sort outputs by name, carrying their keys along. */
    nn_tensor *sorted[NN_MAX_IO];
    memcpy(sorted, outs, (size_t)n_out * sizeof *outs);
    qsort(sorted, (size_t)n_out, sizeof *sorted, compare_output_names);
    /* each key goes to one output, also when a signature names one tensor
     * twice */
    int taken[NN_MAX_IO] = {0};
    for (int i = 0; i < n_out; i++) {
        m->output[i] = sorted[i];
        for (int j = 0; j < n_out; j++)
            if (!taken[j] && outs[j] == sorted[i]) {
                m->output_key[i] = out_keys[j];
                taken[j] = 1;
                break;
            }
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
            return rt_error(RT_ERR_MODEL, "%s: model file not found; %s", json_path,
                            NN_INSTALL_HINT);
        return rt_error(RT_ERR_MODEL, "%s: %s", json_path, strerror(err));
    }
    json_error_t jerr;
    json_t *root = json_loadf(f, 0, &jerr);
    fclose(f);
    if (!root)
        return rt_error(RT_ERR_MODEL, "%s:%d: corrupt model file (%s); %s", json_path, jerr.line,
                        jerr.text, NN_INSTALL_HINT);

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
