/* The one matrix product the ops use: row-major C = A * B through OpenBLAS,
 * always on the calling thread.
 *
 * Our ops tile their products over OpenMP threads themselves.  OpenBLAS's
 * OpenMP build (the one CMake links) threads any call made outside an active
 * parallel region, such as an op whose product is a single tile; for the
 * many small products of the detectors that cost more than it gained
 * (detector_full: 17 ms on 2 threads against 6.5 ms on 1, measured).  The
 * thread count it reads is the calling task's OpenMP setting, so that is
 * set to 1 around the call and restored. */
#ifndef RT_NN_OPS_GEMM_H
#define RT_NN_OPS_GEMM_H

#include <cblas.h>
#include <omp.h>

static inline void nn_gemm(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                           float *c, int ldc)
{
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c,
                ldc);
    omp_set_num_threads(saved);
}

#endif
