// Element-wise kernels of ORWCore, in C so that each is compiled once per instruction set
// (AVX-512, AVX2, baseline) and picked at load time (target_clones): Swift code compiles for
// the baseline x86-64 only. No state, no allocation; every pointer is a plain float array.
// Shape letters: R = rows, C = columns, N = elements.
#ifndef ORW_CKERNELS_H
#define ORW_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// y[N] = silu(x[N]) = x·σ(x); y may equal x.
void orw_silu(float *y, const float *x, size_t n);

/// pre[R, C] += bias[C] (row broadcast); then act[R, C] = silu(pre) if act is non-null.
/// act may equal pre (inference: the pre-activation is not kept).
void orw_bias_silu(float *pre, float *act, const float *bias, size_t rows, size_t cols);

/// y[R, C] += bias[C], row broadcast.
void orw_add_bias(float *y, const float *bias, size_t rows, size_t cols);

/// dx[N] (=, or += if accumulate) dy[N]·σ(x)·(1 + x·(1 − σ(x))), the derivative of silu at x.
/// dx may equal dy.
void orw_silu_backward(float *dx, const float *dy, const float *x, size_t n, int accumulate);

/// db[C] += Σ_r dy[r, C].
void orw_column_sum(float *db, const float *dy, size_t rows, size_t cols);

/// Round-to-nearest-even float → bfloat16 (NaN kept quiet), and back (exact).
void orw_f32_to_bf16(uint16_t *dst, const float *src, size_t n);
void orw_bf16_to_f32(float *dst, const uint16_t *src, size_t n);

/// Strided copy of a [R, C] block: dst row r = src + r·srcStride, C floats.
void orw_f32_to_bf16_rows(uint16_t *dst, size_t dstStride, const float *src, size_t srcStride,
                          size_t rows, size_t cols);

/// One Adam (decoupled = 0) or AdamW (decoupled = 1, coupledDecay = 0) step over n parameters:
/// p ← p·decay (AdamW); g' = g + coupledDecay·p; m ← β₁m + (1−β₁)g'; v ← β₂v + (1−β₂)g'²;
/// p ← p − stepSize·m / (√v / correction2 + ε).
void orw_adam(float *p, const float *g, float *m, float *v, size_t n, float beta1, float beta2,
              float epsilon, float stepSize, float correction2, float decay, float coupledDecay, int decoupled);

/// Σ x[N]² accumulated in double.
double orw_sum_squares(const float *x, size_t n);

/// x[N] (bf16 bit patterns) = bf16(silu(x)), computed in fp32.
void orw_silu_bf16(uint16_t *x, size_t n);

/// y[R, C] (bf16) = bf16(silu(x[R, C] + bias[C])), computed in fp32.
void orw_bias_silu_to_bf16(uint16_t *y, const float *x, const float *bias, size_t rows, size_t cols);

/// y[N] (bf16) = bf16(silu(x[N])).
void orw_silu_to_bf16(uint16_t *y, const float *x, size_t n);

/// x[N] *= scale.
void orw_scale(float *x, float scale, size_t n);

#ifdef __cplusplus
}
#endif
#endif
