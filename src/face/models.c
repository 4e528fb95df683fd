#include "face/models.h"

#include "core/error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Idle sets kept for reuse; more would only hold memory (~45 MB each). */
#define POOL_SIZE 4

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static rt_face_models *pool[POOL_SIZE];

static int load_one(const char *dir, const char *file, nn_model **out)
{
    char path[1024];
    int n = snprintf(path, sizeof path, "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= sizeof path)
        return rt_error(RT_ERR_MODEL, "model folder path too long: %s", dir);
    if (access(path, R_OK) != 0)
        return rt_error(RT_ERR_MODEL, "face analysis needs the model %s, which is missing; %s",
                        path, NN_INSTALL_HINT);
    int err = nn_model_load(path, out);
    if (err) rt_error_prefix("face analysis: ");
    return err;
}

int rt_face_models_load(const char *models_dir, rt_face_models **out)
{
    *out = NULL;
    const char *dir = models_dir && *models_dir ? models_dir : nn_models_dir();
    rt_face_models *m = calloc(1, sizeof *m);
    if (!m) return rt_error(RT_ERR_NOMEM, "out of memory");
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    int err = load_one(dir, "blazeface.json", &m->blazeface);
    if (!err) err = load_one(dir, "facemesh-detection-full.json", &m->detector_full);
    if (!err) err = load_one(dir, "facemesh.json", &m->facemesh);
    if (!err) err = load_one(dir, "iris.json", &m->iris);
    if (!err) err = load_one(dir, "selfie.json", &m->selfie);
    if (!err) err = load_one(dir, "faceres.json", &m->faceres);
    if (err) {
        rt_face_models_destroy(m);
        return err;
    }
    *out = m;
    return 0;
}

void rt_face_models_destroy(rt_face_models *m)
{
    if (!m) return;
    nn_model_destroy(m->blazeface);
    nn_model_destroy(m->detector_full);
    nn_model_destroy(m->facemesh);
    nn_model_destroy(m->iris);
    nn_model_destroy(m->selfie);
    nn_model_destroy(m->faceres);
    free(m);
}

int rt_face_models_acquire(const char *models_dir, rt_face_models **out)
{
    const char *dir = models_dir && *models_dir ? models_dir : nn_models_dir();
    pthread_mutex_lock(&pool_lock);
    for (int i = 0; i < POOL_SIZE; i++)
        if (pool[i] && strcmp(pool[i]->dir, dir) == 0) {
            *out = pool[i];
            pool[i] = NULL;
            pthread_mutex_unlock(&pool_lock);
            return 0;
        }
    pthread_mutex_unlock(&pool_lock);
    return rt_face_models_load(dir, out);
}

void rt_face_models_release(rt_face_models *m)
{
    if (!m) return;
    pthread_mutex_lock(&pool_lock);
    for (int i = 0; i < POOL_SIZE; i++)
        if (!pool[i]) {
            pool[i] = m;
            m = NULL;
            break;
        }
    pthread_mutex_unlock(&pool_lock);
    rt_face_models_destroy(m); /* the pool is full */
}

void rt_face_models_pool_clear(void)
{
    pthread_mutex_lock(&pool_lock);
    for (int i = 0; i < POOL_SIZE; i++) {
        rt_face_models_destroy(pool[i]);
        pool[i] = NULL;
    }
    pthread_mutex_unlock(&pool_lock);
}
