/* Decoding the weightsManifest of model.json.
 *
 * Each group lists shard files whose concatenation holds the group's weights
 * back to back, each prod(shape) values of its stored type: float32 or int32,
 * or quantised (TFJS converter --quantize_*): float16 halves, or uint8/uint16
 * codes q meaning q * scale + min (the same formula as tfjs-core's
 * decodeWeights, so the values are identical).  Everything float becomes a
 * float32 constant tensor; int32 stays int32 (shapes, axes, paddings).
 */
#include "nn/graph.h"
#include "core/error.h"
#include "core/image.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* IEEE 754 half -> float, exact for every value including subnormals. */
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    float f;
    if (exp == 0) {
        f = ldexpf((float)mant, -24); /* zero or subnormal */
        return sign ? -f : f;
    }
    uint32_t bits;
    if (exp == 31)
        bits = sign | 0x7f800000u | (mant << 13); /* inf or NaN */
    else
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    memcpy(&f, &bits, sizeof f);
    return f;
}

static int read_file(const char *path, unsigned char **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return rt_error(RT_ERR_MODEL, "%s: weight file not found; %s", path, NN_INSTALL_HINT);
        return rt_error(RT_ERR_MODEL, "%s: %s", path, strerror(errno));
    }
    int rc = 0;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) {
        rc = rt_error(RT_ERR_MODEL, "%s: cannot read", path);
    } else {
        *data = malloc((size_t)n + 1);
        *size = (size_t)n;
        if (!*data)
            rc = rt_error(RT_ERR_NOMEM, "out of memory");
        else if (fread(*data, 1, (size_t)n, f) != (size_t)n)
            rc = rt_error(RT_ERR_MODEL, "%s: short read", path);
    }
    fclose(f);
    return rc;
}

/* Reads a group's shards into one buffer. */
static int read_group(const nn_model *m, json_t *paths, const char *dir, unsigned char **out,
                      size_t *out_size)
{
    unsigned char *all = NULL;
    size_t total = 0;
    size_t i;
    json_t *jp;
    json_array_foreach(paths, i, jp)
    {
        const char *name = json_string_value(jp);
        if (!name || name[0] == '/' || strstr(name, "..")) {
            free(all);
            return rt_error(RT_ERR_MODEL, "%s: bad weight path", m->path);
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        unsigned char *data = NULL;
        size_t size = 0;
        int rc = read_file(path, &data, &size);
        if (rc) {
            free(data);
            free(all);
            return rc;
        }
        unsigned char *grown = realloc(all, total + size + 1);
        if (!grown) {
            free(data);
            free(all);
            return rt_error(RT_ERR_NOMEM, "out of memory");
        }
        all = grown;
        memcpy(all + total, data, size);
        total += size;
        free(data);
    }
    *out = all;
    *out_size = total;
    return 0;
}

static int decode_weight(nn_model *m, json_t *w, const unsigned char *buf, size_t buf_size,
                         size_t *offset)
{
    const char *name = json_string_value(json_object_get(w, "name"));
    const char *dtype = json_string_value(json_object_get(w, "dtype"));
    json_t *jshape = json_object_get(w, "shape");
    json_t *quant = json_object_get(w, "quantization");
    if (!name || !dtype || !json_is_array(jshape))
        return rt_error(RT_ERR_MODEL, "%s: malformed weight entry", m->path);

    int shape[NN_MAX_RANK] = {0};
    int rank;
    char what[300];
    snprintf(what, sizeof what, "weight %s", name);
    int rc = nn_shape_parse(m, jshape, 0, what, &rank, shape);
    if (rc) return rc;

    const int is_int = strcmp(dtype, "int32") == 0;
    if (!is_int && strcmp(dtype, "float32") != 0)
        return rt_error(RT_ERR_MODEL, "%s: weight %s has unsupported dtype %s", m->path, name,
                        dtype);
    const char *qtype = quant ? json_string_value(json_object_get(quant, "dtype")) : NULL;
    size_t elem = 4;
    if (quant) {
        if (!qtype) return rt_error(RT_ERR_MODEL, "%s: weight %s: bad quantization", m->path, name);
        if (strcmp(qtype, "float16") == 0 && !is_int)
            elem = 2;
        else if (strcmp(qtype, "uint8") == 0)
            elem = 1;
        else if (strcmp(qtype, "uint16") == 0)
            elem = 2;
        else
            return rt_error(RT_ERR_MODEL, "%s: weight %s: unsupported quantization %s", m->path,
                            name, qtype);
    }

    nn_tensor *t = nn_graph_add_tensor(m, name);
    if (!t) return rt_error(RT_ERR_NOMEM, "out of memory");
    nn_tensor_set_shape(t, rank, shape);
    t->is_const = 1;
    t->dtype = is_int ? NN_I32 : NN_F32;
    size_t n = t->size;
    if (n > (buf_size - *offset) / elem)
        return rt_error(RT_ERR_MODEL, "%s: weight data too short for %s; %s", m->path, name,
                        NN_INSTALL_HINT);
    const unsigned char *src = buf + *offset;
    *offset += n * elem;

    /* tfjs-core dequantises in double precision, then stores float32. */
    double scale = 1, min = 0;
    if (quant && strcmp(qtype, "float16") != 0) {
        scale = json_number_value(json_object_get(quant, "scale"));
        min = json_number_value(json_object_get(quant, "min"));
    }
    if (is_int) {
        t->idata = malloc((n ? n : 1) * sizeof(int32_t));
        if (!t->idata) return rt_error(RT_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            if (!quant) {
                memcpy(&t->idata[i], src + 4 * i, 4);
            } else {
                uint32_t q = elem == 1 ? src[i] : (uint32_t)(src[2 * i] | src[2 * i + 1] << 8);
                t->idata[i] = (int32_t)floor((double)q * scale + min + 0.5); /* Math.round */
            }
        }
        return 0;
    }
    t->data = rt_alloc_floats(n ? n : 1);
    if (!t->data) return rt_error(RT_ERR_NOMEM, "out of memory");
    m->weight_bytes += n * sizeof(float);
    const int is_half = quant && strcmp(qtype, "float16") == 0;
    for (size_t i = 0; i < n; i++) {
        if (!quant) {
            memcpy(&t->data[i], src + 4 * i, 4);
        } else if (is_half) {
            t->data[i] = half_to_float((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
        } else {
            uint32_t q = elem == 1 ? src[i] : (uint32_t)(src[2 * i] | src[2 * i + 1] << 8);
            t->data[i] = (float)((double)q * scale + min);
        }
    }
    return 0;
}

int nn_weights_load(nn_model *m, json_t *manifest, const char *dir)
{
    if (!json_is_array(manifest)) return rt_error(RT_ERR_MODEL, "%s: no weightsManifest", m->path);
    size_t g;
    json_t *group;
    json_array_foreach(manifest, g, group)
    {
        unsigned char *buf = NULL;
        size_t size = 0;
        int rc = read_group(m, json_object_get(group, "paths"), dir, &buf, &size);
        size_t offset = 0;
        size_t i;
        json_t *w;
        json_array_foreach(json_object_get(group, "weights"), i, w)
        {
            if (!rc) rc = decode_weight(m, w, buf, size, &offset);
        }
        if (!rc && offset != size)
            rc = rt_error(RT_ERR_MODEL, "%s: weight files have %zu unexpected bytes; %s", m->path,
                          size - offset, NN_INSTALL_HINT);
        free(buf);
        if (rc) return rc;
    }
    return 0;
}
