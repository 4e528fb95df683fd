/* The set of neural models face analysis runs, loaded from one folder.
 *
 * Loading all six models takes about 0.1 s, so released sets are kept in a
 * small process-wide pool and handed to the next job that asks for the same
 * folder.  A set is used by one thread at a time (nn models are not
 * reentrant); the pool lends each set to one caller only.
 *
 * Ownership: rt_face_models_acquire() lends a set to the caller until
 * rt_face_models_release(); rt_face_models_pool_clear() destroys the idle
 * sets (at shutdown, or to free memory).
 */
#ifndef RT_FACE_MODELS_H
#define RT_FACE_MODELS_H

#include "nn/nn.h"

typedef struct rt_face_models {
    nn_model *blazeface;     /* detector, 256x256, close and mid-range faces */
    nn_model *detector_full; /* full-range detector, 192x192, small faces */
    nn_model *facemesh;
    nn_model *iris;
    nn_model *selfie;
    nn_model *faceres;
    char dir[512];
} rt_face_models;

/* A model set for models_dir (NULL: nn_models_dir()).  A missing file fails
 * with RT_ERR_MODEL naming it and `make setup`. */
int rt_face_models_acquire(const char *models_dir, rt_face_models **out);
void rt_face_models_release(rt_face_models *m);

/* Loads a set outside the pool (tests, benchmarks); destroy it yourself. */
int rt_face_models_load(const char *models_dir, rt_face_models **out);
void rt_face_models_destroy(rt_face_models *m);

void rt_face_models_pool_clear(void);

#endif
