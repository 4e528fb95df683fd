/* The models and inputs of the golden tests and benchmarks: every model the
 * project uses, each on a seeded random input and on a real photo crop
 * (tests/data/nn_*.png, see tests/data/CREDITS.md). */
#ifndef RT_TESTS_NN_GOLDEN_CASES_H
#define RT_TESTS_NN_GOLDEN_CASES_H

#include <stddef.h>
#include <stdint.h>

typedef struct golden_model {
    const char *name;  /* short name used in file names */
    const char *file;  /* model.json under models/ */
    int size;          /* square input size */
    float lo, hi;      /* input range the model expects */
    const char *image; /* real crop under tests/data/ */
    uint32_t seed;
} golden_model;

static const golden_model golden_models[] = {
    {"blazeface", "blazeface.json", 256, -1.0f, 1.0f, "nn_person_256.png", 101},
    {"detector_full", "facemesh-detection-full.json", 192, -1.0f, 1.0f, "nn_face_192.png", 106},
    {"facemesh", "facemesh.json", 192, 0.0f, 1.0f, "nn_face_192.png", 102},
    {"iris", "iris.json", 64, 0.0f, 1.0f, "nn_eye_64.png", 103},
    {"selfie", "selfie.json", 256, 0.0f, 1.0f, "nn_person_256.png", 104},
    {"faceres", "faceres.json", 224, 0.0f, 255.0f, "nn_face_224.png", 105}, /* as human feeds it */
};
#define GOLDEN_MODEL_COUNT (sizeof golden_models / sizeof golden_models[0])

/* mulberry32: a tiny generator, so the random inputs (and hence the
 * committed fixtures) never depend on a library's rand(). */
static inline uint32_t golden_rand(uint32_t *state)
{
    uint32_t t = (*state += 0x6D2B79F5u);
    t = (t ^ (t >> 15)) * (t | 1u);
    t ^= t + (t ^ (t >> 7)) * (t | 61u);
    return t ^ (t >> 14);
}

/* n floats uniform in [lo, hi): 24 random bits, exact in float. */
static inline void golden_random_input(float *out, size_t n, uint32_t seed, float lo, float hi)
{
    uint32_t state = seed;
    for (size_t i = 0; i < n; i++) {
        float u = (float)(golden_rand(&state) >> 8) / 16777216.0f;
        out[i] = lo + (hi - lo) * u;
    }
}

#endif
