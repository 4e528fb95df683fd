/* libFuzzer target for the model loader: a model.json and its weight shard
 * from any bytes must load or fail with a message, never crash, leak or hit
 * undefined behaviour (a crafted shape once wrapped the element count and
 * divided by zero in Conv2D).  Input: model.json, then optionally the line
 * "--shard--" and the bytes of the shard "m.bin" the manifest may name.  A
 * model that loads is run once on zeros when its memory is small, so the
 * shapes prepare() accepted are also the ones run() can use.  Seeds: tiny
 * graphs of the common ops.  See tests/fuzz/run.
 */
#include "core/error.h"
#include "nn/nn.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64], json_path[96], shard_path[96];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "/tmp/rt-fuzz-model-%d", (int)getpid());
    mkdir(dir, 0700);
    snprintf(json_path, sizeof json_path, "%s/model.json", dir);
    snprintf(shard_path, sizeof shard_path, "%s/m.bin", dir);
    return 0;
}

static void write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (len && fwrite(data, 1, len, f) != len) abort();
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char sep[] = "\n--shard--\n";
    const uint8_t *split = memmem(data, size, sep, sizeof sep - 1);
    size_t json_len = split ? (size_t)(split - data) : size;
    write_file(json_path, data, json_len);
    if (split) {
        const uint8_t *shard = split + sizeof sep - 1;
        write_file(shard_path, shard, size - (size_t)(shard - data));
    } else {
        unlink(shard_path);
    }
    nn_model *m = NULL;
    int err = nn_model_load(json_path, &m);
    if (err) {
        if (m || !rt_error_message()[0]) abort();
        return 0;
    }
    if (nn_model_arena_bytes(m) <= ((size_t)64 << 20)) {
        int n_in = nn_model_input_count(m);
        const float *inputs[8] = {0};
        float *buffers[8] = {0};
        for (int i = 0; i < n_in && i < 8; i++) {
            const nn_tensor_info *info = nn_model_input(m, i);
            buffers[i] = calloc(info->size ? info->size : 1, sizeof(float));
            if (!buffers[i]) abort();
            inputs[i] = buffers[i];
        }
        if (nn_model_run(m, inputs, NULL)) abort();
        for (int i = 0; i < 8; i++)
            free(buffers[i]);
    }
    nn_model_destroy(m);
    return 0;
}
