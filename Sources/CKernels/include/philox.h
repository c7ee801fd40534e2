// Gaussian noise from Philox-4x32-10 by Box–Muller, for ORWCore's RandomStream.fillNormal:
// the same numbers as its scalar path (RandomStream.nextNormal), bit for bit, many at a time.
#ifndef ORW_PHILOX_H
#define ORW_PHILOX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// out[2·pairs]: block i = Philox4x32-10(key, (counter[0] + i mod 2^32, counter[1..3])) gives
/// the pair out[2i] = Float(ρ cos θ), out[2i + 1] = Float(ρ sin θ), computed in double with
/// u1 = 1 − (w0 >> 5 · 2^26 + w1 >> 6) · 2^-53, u2 the same from (w2, w3), ρ = √(−2 ln u1),
/// θ = 2π u2.
void orw_philox_normals(float *out, size_t pairs, const uint32_t key[2], const uint32_t counter[4]);

#ifdef __cplusplus
}
#endif
#endif
