/*===- test_kernel_gpu.c - GPU entry points for the cuda tests ----*- C -*-===*\
|*                                                                          *|
|* SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception                  *|
|*                                                                          *|
\*===----------------------------------------------------------------------===*/

/* A hand-written stand-in for the host code of a `--target=cuda` artifact
 * (docs/runtime-cuda.md): CPU entry points `lctx_entry_NAME` and GPU entry
 * points `lctx_entry_cuda_NAME` with the same arguments, calling the GPU
 * runtime only through the exported `lctx_rt_gpu_<fn>` slots the runtime
 * fills (no undefined GPU symbols). The kernel is PTX text, JIT-compiled
 * by the driver. Entry points:
 *   axpy (x, y F32 [2, 3] -> out = 2x + y): a temporary device buffer, a
 *     device-to-device copy, one launch, one allocation left live (the
 *     runtime reclaims it);
 *   count (x F32 [2, 3]; states acc F32 [2, 3], pos I64 [1]): acc += x on
 *     the GPU, pos += 1 by host code through pinned memory; outputs
 *     out = acc, step = pos;
 *   fail: asks for a kernel the module lacks (a sticky error).
 * LCTX_TEST_UNKNOWN_SLOT adds a slot of a GPU function no runtime knows. */

#include <stdint.h>
#include <string.h>

typedef struct {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];
} F32R2;

typedef struct {
  int64_t *allocated;
  int64_t *aligned;
  int64_t offset;
  int64_t sizes[1];
  int64_t strides[1];
} I64R1;

/* The slots; null until the runtime binds them. */
void *lctx_rt_gpu_mgpuModuleLoadJIT;
void *lctx_rt_gpu_mgpuModuleUnload;
void *lctx_rt_gpu_mgpuModuleGetFunction;
void *lctx_rt_gpu_mgpuLaunchKernel;
void *lctx_rt_gpu_mgpuStreamCreate;
void *lctx_rt_gpu_mgpuStreamDestroy;
void *lctx_rt_gpu_mgpuStreamSynchronize;
void *lctx_rt_gpu_mgpuMemAlloc;
void *lctx_rt_gpu_mgpuMemFree;
void *lctx_rt_gpu_mgpuMemcpy;
#ifdef LCTX_TEST_UNKNOWN_SLOT
void *lctx_rt_gpu_mgpuFancy;
#endif

typedef void *(*LoadJitFn)(void *, int32_t);
typedef void (*UnloadFn)(void *);
typedef void *(*GetFunctionFn)(void *, const char *);
typedef void (*LaunchFn)(void *, int64_t, int64_t, int64_t, int64_t, int64_t,
                         int64_t, int32_t, void *, void **, void **, int64_t);
typedef void *(*StreamCreateFn)(void);
typedef void (*StreamFn)(void *);
typedef void *(*AllocFn)(uint64_t, void *, int8_t);
typedef void (*FreeFn)(void *, void *);
typedef void (*MemcpyFn)(void *, void *, uint64_t, void *);

/* out[i] = a * x[i] + y[i] for i < n. */
static const char kPtx[] =
    ".version 7.0\n"
    ".target sm_75\n"
    ".address_size 64\n"
    ".visible .entry axpy_kernel(.param .u64 p_out, .param .u64 p_x,\n"
    "    .param .u64 p_y, .param .f32 p_a, .param .u32 p_n)\n"
    "{\n"
    "  .reg .pred %p<2>;\n"
    "  .reg .b32 %r<6>;\n"
    "  .reg .f32 %f<5>;\n"
    "  .reg .b64 %rd<10>;\n"
    "  ld.param.u64 %rd1, [p_out];\n"
    "  ld.param.u64 %rd2, [p_x];\n"
    "  ld.param.u64 %rd3, [p_y];\n"
    "  ld.param.f32 %f1, [p_a];\n"
    "  ld.param.u32 %r1, [p_n];\n"
    "  mov.u32 %r2, %ctaid.x;\n"
    "  mov.u32 %r3, %ntid.x;\n"
    "  mov.u32 %r4, %tid.x;\n"
    "  mad.lo.s32 %r5, %r2, %r3, %r4;\n"
    "  setp.ge.u32 %p1, %r5, %r1;\n"
    "  @%p1 bra DONE;\n"
    "  cvta.to.global.u64 %rd4, %rd1;\n"
    "  cvta.to.global.u64 %rd5, %rd2;\n"
    "  cvta.to.global.u64 %rd6, %rd3;\n"
    "  mul.wide.u32 %rd7, %r5, 4;\n"
    "  add.s64 %rd8, %rd5, %rd7;\n"
    "  ld.global.f32 %f2, [%rd8];\n"
    "  add.s64 %rd8, %rd6, %rd7;\n"
    "  ld.global.f32 %f3, [%rd8];\n"
    "  fma.rn.f32 %f4, %f1, %f2, %f3;\n"
    "  add.s64 %rd8, %rd4, %rd7;\n"
    "  st.global.f32 [%rd8], %f4;\n"
    "DONE:\n"
    "  ret;\n"
    "}\n";

/* The kernel text, for the test artifact's ptx section. */
const char *lctx_test_gpu_ptx(void) { return kPtx; }

static void launchAxpy(const char *kernel, float *out, float *x, float *y,
                       float a, uint32_t n) {
  void *stream = ((StreamCreateFn)lctx_rt_gpu_mgpuStreamCreate)();
  void *module = ((LoadJitFn)lctx_rt_gpu_mgpuModuleLoadJIT)((void *)kPtx, 2);
  void *function =
      ((GetFunctionFn)lctx_rt_gpu_mgpuModuleGetFunction)(module, kernel);
  void *params[] = {&out, &x, &y, &a, &n};
  ((LaunchFn)lctx_rt_gpu_mgpuLaunchKernel)(function, 1, 1, 1, 32, 1, 1, 0,
                                           stream, params, 0, 5);
  ((UnloadFn)lctx_rt_gpu_mgpuModuleUnload)(module);
  ((StreamFn)lctx_rt_gpu_mgpuStreamSynchronize)(stream);
  ((StreamFn)lctx_rt_gpu_mgpuStreamDestroy)(stream);
}

static float *data2(void *arg) {
  F32R2 *m = (F32R2 *)arg;
  return m->aligned + m->offset;
}

/* CPU entries, so the artifact also runs on the CPU. */
void lctx_entry_axpy(void **args) {
  float *x = data2(args[0]), *y = data2(args[1]), *out = data2(args[2]);
  for (int i = 0; i < 6; ++i)
    out[i] = 2 * x[i] + y[i];
}

void lctx_entry_count(void **args) {
  float *x = data2(args[0]), *acc = data2(args[1]);
  I64R1 *pos = (I64R1 *)args[2];
  float *out = data2(args[3]);
  I64R1 *step = (I64R1 *)args[4];
  float *accNext = data2(args[5]);
  I64R1 *posNext = (I64R1 *)args[6];
  for (int i = 0; i < 6; ++i)
    out[i] = accNext[i] = acc[i] + x[i];
  posNext->aligned[0] = step->aligned[0] = pos->aligned[0] + 1;
}

void lctx_entry_fail(void **args) { (void)args; }

/* GPU entries. */
void lctx_entry_cuda_axpy(void **args) {
  float *x = data2(args[0]), *y = data2(args[1]), *out = data2(args[2]);
  void *stream = ((StreamCreateFn)lctx_rt_gpu_mgpuStreamCreate)();
  float *tmp = (float *)((AllocFn)lctx_rt_gpu_mgpuMemAlloc)(24, stream, 0);
  ((MemcpyFn)lctx_rt_gpu_mgpuMemcpy)(tmp, x, 24, stream);
  /* Left live on purpose: the runtime reclaims it when the call ends. */
  ((AllocFn)lctx_rt_gpu_mgpuMemAlloc)(4096, stream, 0);
  launchAxpy("axpy_kernel", out, tmp, y, 2.0f, 6);
  ((FreeFn)lctx_rt_gpu_mgpuMemFree)(tmp, stream);
}

void lctx_entry_cuda_count(void **args) {
  float *x = data2(args[0]), *acc = data2(args[1]);
  I64R1 *pos = (I64R1 *)args[2];
  float *out = data2(args[3]);
  I64R1 *step = (I64R1 *)args[4];
  float *accNext = data2(args[5]);
  I64R1 *posNext = (I64R1 *)args[6];
  void *stream = ((StreamCreateFn)lctx_rt_gpu_mgpuStreamCreate)();
  launchAxpy("axpy_kernel", accNext, x, acc, 1.0f, 6);
  ((MemcpyFn)lctx_rt_gpu_mgpuMemcpy)(out, accNext, 24, stream);
  /* Small integer state and output are pinned host memory: host code
   * reads and writes them directly. A host-shared temporary, too. */
  int64_t *scratch =
      (int64_t *)((AllocFn)lctx_rt_gpu_mgpuMemAlloc)(8, stream, 1);
  scratch[0] = pos->aligned[pos->offset] + 1;
  posNext->aligned[posNext->offset] = scratch[0];
  step->aligned[step->offset] = scratch[0];
  ((FreeFn)lctx_rt_gpu_mgpuMemFree)(scratch, stream);
  ((StreamFn)lctx_rt_gpu_mgpuStreamSynchronize)(stream);
}

void lctx_entry_cuda_fail(void **args) {
  (void)args;
  float *none = 0;
  launchAxpy("no_such_kernel", none, none, none, 1.0f, 6);
}
