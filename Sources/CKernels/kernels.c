// See ckernels.h. Each exported loop is cloned for AVX-512, AVX2 and the baseline; the loader
// picks the best the CPU has (GNU ifunc). exp is a branch-free polynomial (Cephes' expf
// coefficients, relative error < 2e-7 on the clamped range) so that the loops vectorise.
#include "ckernels.h"
#include <string.h>

#if defined(__x86_64__) && defined(__clang__) && defined(__linux__)
#define ORW_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ORW_CLONES
#endif

static inline float orw_expf(float x) {
    x = x > 88.3762626647949f ? 88.3762626647949f : x;
    x = x < -87.3365447504f ? -87.3365447504f : x;
    // k = round(x / ln 2) by the 1.5·2^23 trick (round to nearest, vectorises everywhere)
    const float shifter = 12582912.0f;
    float kf = x * 1.44269504088896341f + shifter;
    int32_t ki;
    memcpy(&ki, &kf, 4);
    ki -= 0x4B400000;
    kf -= shifter;
    float r = x - kf * 0.693359375f + kf * 2.12194440e-4f;
    float r2 = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r2 + r + 1.0f;
    int32_t bits = (ki + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return p * scale;
}

static inline float orw_sigmoid(float x) { return 1.0f / (1.0f + orw_expf(-x)); }

// The vectoriser checks for overlap at run time and falls back to scalar code when output and
// input are the same array, so every in-place case has its own loop with one pointer.

ORW_CLONES void orw_silu(float *y, const float *x, size_t n) {
    if (y == x) {
        for (size_t i = 0; i < n; i++) {
            float v = y[i];
            y[i] = v * orw_sigmoid(v);
        }
    } else {
        float *restrict out = y;
        const float *restrict in = x;
        for (size_t i = 0; i < n; i++) {
            float v = in[i];
            out[i] = v * orw_sigmoid(v);
        }
    }
}

ORW_CLONES void orw_bias_silu(float *pre, float *act, const float *bias, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        float *restrict p = pre + r * cols;
        const float *restrict b = bias;
        if (act == NULL) {
            for (size_t c = 0; c < cols; c++) p[c] += b[c];
        } else if (act == pre) {
            for (size_t c = 0; c < cols; c++) {
                float v = p[c] + b[c];
                p[c] = v * orw_sigmoid(v);
            }
        } else {
            float *restrict a = act + r * cols;
            for (size_t c = 0; c < cols; c++) {
                float v = p[c] + b[c];
                p[c] = v;
                a[c] = v * orw_sigmoid(v);
            }
        }
    }
}

ORW_CLONES void orw_add_bias(float *y, const float *bias, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        float *restrict p = y + r * cols;
        const float *restrict b = bias;
        for (size_t c = 0; c < cols; c++) p[c] += b[c];
    }
}

static inline float orw_silu_slope(float v) {
    float s = orw_sigmoid(v);
    return s * (1.0f + v * (1.0f - s));
}

ORW_CLONES void orw_silu_backward(float *dx, const float *dy, const float *x, size_t n, int accumulate) {
    const float *restrict in = x;
    if (dx == dy) {
        float *restrict g = dx;
        if (accumulate) {
            for (size_t i = 0; i < n; i++) g[i] += g[i] * orw_silu_slope(in[i]);
        } else {
            for (size_t i = 0; i < n; i++) g[i] *= orw_silu_slope(in[i]);
        }
    } else {
        float *restrict out = dx;
        const float *restrict g = dy;
        if (accumulate) {
            for (size_t i = 0; i < n; i++) out[i] += g[i] * orw_silu_slope(in[i]);
        } else {
            for (size_t i = 0; i < n; i++) out[i] = g[i] * orw_silu_slope(in[i]);
        }
    }
}

ORW_CLONES void orw_column_sum(float *db, const float *dy, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        float *restrict out = db;
        const float *restrict p = dy + r * cols;
        for (size_t c = 0; c < cols; c++) out[c] += p[c];
    }
}

static inline uint16_t orw_bf16(float value) {
    uint32_t bits;
    memcpy(&bits, &value, 4);
    uint32_t rounded = bits + 0x7FFFu + ((bits >> 16) & 1u);
    uint32_t isnan = (bits & 0x7FFFFFFFu) > 0x7F800000u;
    return isnan ? (uint16_t)((bits >> 16) | 0x40u) : (uint16_t)(rounded >> 16);
}

ORW_CLONES void orw_f32_to_bf16(uint16_t *restrict dst, const float *restrict src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = orw_bf16(src[i]);
}

ORW_CLONES void orw_bf16_to_f32(float *restrict dst, const uint16_t *restrict src, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = (uint32_t)src[i] << 16;
        memcpy(dst + i, &bits, 4);
    }
}

ORW_CLONES void orw_f32_to_bf16_rows(uint16_t *dst, size_t dstStride, const float *src, size_t srcStride,
                                     size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        const float *restrict s = src + r * srcStride;
        uint16_t *restrict d = dst + r * dstStride;
        for (size_t c = 0; c < cols; c++) d[c] = orw_bf16(s[c]);
    }
}

// One Adam/AdamW update (see ORWCore's Adam for the formulas); the scalars are computed by the
// caller as PyTorch does. With `decoupled`, coupledDecay is 0.
ORW_CLONES void orw_adam(float *restrict p, const float *restrict g, float *restrict m, float *restrict v, size_t n,
                         float beta1, float beta2, float epsilon, float stepSize, float correction2,
                         float decay, float coupledDecay, int decoupled) {
    const float c1 = 1 - beta1, c2 = 1 - beta2;
    if (decoupled) {
        for (size_t i = 0; i < n; i++) {
            float x = p[i] * decay;
            float gi = g[i];
            float mi = beta1 * m[i] + c1 * gi;
            float vi = beta2 * v[i] + c2 * gi * gi;
            m[i] = mi;
            v[i] = vi;
            p[i] = x - stepSize * mi / (__builtin_elementwise_sqrt(vi) / correction2 + epsilon);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            float x = p[i];
            float gi = g[i] + coupledDecay * x;
            float mi = beta1 * m[i] + c1 * gi;
            float vi = beta2 * v[i] + c2 * gi * gi;
            m[i] = mi;
            v[i] = vi;
            p[i] = x - stepSize * mi / (__builtin_elementwise_sqrt(vi) / correction2 + epsilon);
        }
    }
}

// Σ x² in double, eight partial sums (the order differs from a serial loop by rounding only).
ORW_CLONES double orw_sum_squares(const float *x, size_t n) {
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += (double)x[i + j] * (double)x[i + j];
    double total = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; i < n; i++) total += (double)x[i] * (double)x[i];
    return total;
}

ORW_CLONES void orw_scale(float *x, float scale, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] *= scale;
}

ORW_CLONES void orw_silu_bf16(uint16_t *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = (uint32_t)x[i] << 16;
        float v;
        memcpy(&v, &bits, 4);
        x[i] = orw_bf16(v * orw_sigmoid(v));
    }
}

ORW_CLONES void orw_bias_silu_to_bf16(uint16_t *restrict y, const float *restrict x, const float *restrict bias,
                                      size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        const float *restrict p = x + r * cols;
        uint16_t *restrict q = y + r * cols;
        for (size_t c = 0; c < cols; c++) {
            float v = p[c] + bias[c];
            q[c] = orw_bf16(v * orw_sigmoid(v));
        }
    }
}

ORW_CLONES void orw_silu_to_bf16(uint16_t *restrict y, const float *restrict x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = orw_bf16(v * orw_sigmoid(v));
    }
}
