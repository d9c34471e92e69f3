/*===- test_kernel.c - Entry points for the artifact tests --------*- C -*-===*\
|*                                                                          *|
|* SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception                  *|
|*                                                                          *|
\*===----------------------------------------------------------------------===*/

/* Hand-written stand-ins for compiled code: each function follows the CPU
 * calling convention of docs/artifact.md (`void f(void **args)`, args[i]
 * pointing to the memref descriptor of argument i) and indexes through the
 * descriptors' offsets and strides. Built as a shared object, packed into
 * test artifacts as their `cpu.so` section. LCTX_TEST_SCALE (default 2) is
 * the factor of axpy, so that two builds of this file differ in behaviour. */

#include <math.h>
#include <stdint.h>

#ifndef LCTX_TEST_SCALE
#define LCTX_TEST_SCALE 2
#endif

#define MEMREF(name, type, rank)                                               \
  typedef struct {                                                             \
    type *allocated;                                                           \
    type *aligned;                                                             \
    int64_t offset;                                                            \
    int64_t sizes[rank];                                                       \
    int64_t strides[rank];                                                     \
  } name

MEMREF(F32R1, float, 1);
MEMREF(F32R2, float, 2);
MEMREF(F32R3, float, 3);
MEMREF(I32R1, int32_t, 1);
MEMREF(I64R1, int64_t, 1);

typedef struct {
  float re, im;
} c64;
MEMREF(C64R1, c64, 1);

typedef struct {
  double *allocated;
  double *aligned;
  int64_t offset;
} F64R0;

#define AT1(m, i) ((m)->aligned[(m)->offset + (i) * (m)->strides[0]])
#define AT2(m, i, j)                                                           \
  ((m)->aligned[(m)->offset + (i) * (m)->strides[0] + (j) * (m)->strides[1]])

/* x, y: F32 [M, N] inputs; out: F32 [M, N] = SCALE * x + y. */
void lctx_entry_axpy(void **args) {
  const F32R2 *x = (const F32R2 *)args[0];
  const F32R2 *y = (const F32R2 *)args[1];
  F32R2 *out = (F32R2 *)args[2];
  for (int64_t i = 0; i < out->sizes[0]; ++i)
    for (int64_t j = 0; j < out->sizes[1]; ++j)
      AT2(out, i, j) = LCTX_TEST_SCALE * AT2(x, i, j) + AT2(y, i, j);
}

/* ids: I32 [N]; table: F32 [V, D] weight; out: F32 [N, D] = table[ids].
 * Out-of-range ids produce NaN rows. */
void lctx_entry_embed(void **args) {
  const I32R1 *ids = (const I32R1 *)args[0];
  const F32R2 *table = (const F32R2 *)args[1];
  F32R2 *out = (F32R2 *)args[2];
  for (int64_t n = 0; n < out->sizes[0]; ++n) {
    int64_t id = AT1(ids, n);
    for (int64_t d = 0; d < out->sizes[1]; ++d)
      AT2(out, n, d) =
          id >= 0 && id < table->sizes[0] ? AT2(table, id, d) : NAN;
  }
}

/* a: F32 [2, 3, 4]; s: F64 []; table: F32 [5, 4] weight; out: I64 [20]
 * receives the descriptor fields: a (aligned, allocated, offset, sizes,
 * strides), s (aligned, allocated, offset), table (likewise), and out's own
 * aligned pointer. */
void lctx_entry_inspect(void **args) {
  const F32R3 *a = (const F32R3 *)args[0];
  const F64R0 *s = (const F64R0 *)args[1];
  const F32R2 *table = (const F32R2 *)args[2];
  I64R1 *out = (I64R1 *)args[3];
  int64_t fields[20];
  int k = 0;
  fields[k++] = (int64_t)(intptr_t)a->aligned;
  fields[k++] = (int64_t)(intptr_t)a->allocated;
  fields[k++] = a->offset;
  for (int d = 0; d < 3; ++d)
    fields[k++] = a->sizes[d];
  for (int d = 0; d < 3; ++d)
    fields[k++] = a->strides[d];
  fields[k++] = (int64_t)(intptr_t)s->aligned;
  fields[k++] = (int64_t)(intptr_t)s->allocated;
  fields[k++] = s->offset;
  fields[k++] = (int64_t)(intptr_t)table->aligned;
  fields[k++] = (int64_t)(intptr_t)table->allocated;
  fields[k++] = table->offset;
  for (int d = 0; d < 2; ++d)
    fields[k++] = table->sizes[d];
  for (int d = 0; d < 2; ++d)
    fields[k++] = table->strides[d];
  fields[k++] = (int64_t)(intptr_t)out->aligned;
  for (int i = 0; i < k && i < out->sizes[0]; ++i)
    AT1(out, i) = fields[i];
}

/* z: C64 [N]; out: C64 [N] = conj(z). */
void lctx_entry_conj(void **args) {
  const C64R1 *z = (const C64R1 *)args[0];
  C64R1 *out = (C64R1 *)args[1];
  for (int64_t i = 0; i < out->sizes[0]; ++i) {
    AT1(out, i).re = AT1(z, i).re;
    AT1(out, i).im = -AT1(z, i).im;
  }
}

/* x: F32 [0, 4] (empty); out: I64 [3] = x's sizes and whether its data
 * pointer is non-NULL. */
void lctx_entry_empty(void **args) {
  const F32R2 *x = (const F32R2 *)args[0];
  I64R1 *out = (I64R1 *)args[1];
  AT1(out, 0) = x->sizes[0];
  AT1(out, 1) = x->sizes[1];
  AT1(out, 2) = x->aligned != 0;
}

/* x: F32 [N] input; h: F32 [N] state_in; out: F32 [N] output; h_next: F32
 * [N] state_out. out = h + x and h_next = h + x: a running sum, so that a
 * session's state after k runs is the sum of the k inputs. */
void lctx_entry_accumulate(void **args) {
  const F32R1 *x = (const F32R1 *)args[0];
  const F32R1 *h = (const F32R1 *)args[1];
  F32R1 *out = (F32R1 *)args[2];
  F32R1 *next = (F32R1 *)args[3];
  for (int64_t i = 0; i < out->sizes[0]; ++i) {
    float sum = AT1(h, i) + AT1(x, i);
    AT1(out, i) = sum;
    AT1(next, i) = sum;
  }
}
