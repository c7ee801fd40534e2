// See philox.h. The Philox blocks are computed LANES at a time in plain loops that vectorise
// (32×32 → 64-bit products are vpmuludq), cloned per instruction set like kernels.c; log, sqrt,
// sin and cos are glibc's scalar double functions, as in Swift's scalar path, so the values are
// identical (RandomTests compares the two on many streams).
#include "philox.h"
#include <math.h>

#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__) && defined(__clang__) && defined(__linux__)
#define ORW_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ORW_CLONES
#endif

enum { LANES = 16 };

// Salmon et al., SC 2011: the round multipliers and the key's Weyl increments.
static const uint32_t multiplier0 = 0xD2511F53u, multiplier1 = 0xCD9E8D57u;
static const uint32_t weyl0 = 0x9E3779B9u, weyl1 = 0xBB67AE85u;

// words[4][LANES]: the blocks of counters (first + lane, c1, c2, c3), word-major.
static inline void philox_blocks(uint32_t words[4][LANES], uint32_t first, const uint32_t key[2],
                                 const uint32_t counter[4]) {
    uint32_t c0[LANES], c1[LANES], c2[LANES], c3[LANES];
    for (int l = 0; l < LANES; l++) {
        c0[l] = first + (uint32_t)l;
        c1[l] = counter[1];
        c2[l] = counter[2];
        c3[l] = counter[3];
    }
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += weyl0;
            k1 += weyl1;
        }
        for (int l = 0; l < LANES; l++) {
            uint64_t p0 = (uint64_t)multiplier0 * c0[l];
            uint64_t p1 = (uint64_t)multiplier1 * c2[l];
            uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[l] ^ k0;
            uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3[l] ^ k1;
            c1[l] = (uint32_t)p1;
            c3[l] = (uint32_t)p0;
            c0[l] = n0;
            c2[l] = n2;
        }
    }
    for (int l = 0; l < LANES; l++) {
        words[0][l] = c0[l];
        words[1][l] = c1[l];
        words[2][l] = c2[l];
        words[3][l] = c3[l];
    }
}

// Uniform on [0, 1) from 53 bits of two words (RandomStream.nextUniformDouble).
static inline double uniform53(uint32_t high, uint32_t low) {
    return (double)((uint64_t)(high >> 5) << 26 | (uint64_t)(low >> 6)) * 0x1p-53;
}

ORW_CLONES void orw_philox_normals(float *out, size_t pairs, const uint32_t key[2], const uint32_t counter[4]) {
    uint32_t words[4][LANES];
    for (size_t start = 0; start < pairs; start += LANES) {
        philox_blocks(words, counter[0] + (uint32_t)start, key, counter);
        size_t lanes = pairs - start < LANES ? pairs - start : LANES;
        for (size_t l = 0; l < lanes; l++) {
            double u1 = 1 - uniform53(words[0][l], words[1][l]);   // (0, 1]: log is finite
            double u2 = uniform53(words[2][l], words[3][l]);
            double radius = sqrt(-2 * log(u1));
            double angle = 2 * M_PI * u2;
            out[2 * (start + l)] = (float)(radius * cos(angle));
            out[2 * (start + l) + 1] = (float)(radius * sin(angle));
        }
    }
}
