/*===- c_api_test.c - The C API used from C99 ---------------------*- C -*-===*\
|*                                                                          *|
|* SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception                  *|
|*                                                                          *|
\*===----------------------------------------------------------------------===*/

/* `lctxrt-c-api-test FILE [ARTIFACT]` writes FILE with the C API, reads it
 * back and checks every field; with ARTIFACT (axpy.lctx of
 * lctxrt-make-test-artifacts) it also runs entry point axpy. Compiled as C99
 * with -pedantic to keep lctxrt.h a C header. Exits non-zero on the first
 * mismatch. */

#include "lctxrt/lctxrt.h"

#include <stdio.h>
#include <string.h>

static int failures = 0;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

/* Prints and frees \p status; returns 1 if it was an error. */
static int report(lctxrt_status_t status) {
  if (!status)
    return 0;
  fprintf(stderr, "error %s: %s\n",
          lctxrt_status_code_name(lctxrt_status_code(status)),
          lctxrt_status_message(status));
  lctxrt_status_free(status);
  return 1;
}

/* Runs axpy (out = 2x + y, F32 [2, 3]) of \p path through the C API. */
static void checkArtifact(const char *path) {
  lctxrt_artifact_t *artifact = NULL;
  lctxrt_session_t *session = NULL;
  lctxrt_entry_point_info_t entry;
  lctxrt_tensor_view_t inputs[2], output;
  const int64_t shape[2] = {2, 3};
  float x[6], y[6], out[6];
  int i;

  if (report(lctxrt_artifact_open(path, &artifact))) {
    ++failures;
    return;
  }
  CHECK(lctxrt_artifact_num_entry_points(artifact) == 1);
  CHECK(!report(lctxrt_artifact_find_entry_point(artifact, "axpy", &entry)));
  CHECK(entry.num_args == 3 && entry.num_inputs == 2 && entry.num_outputs == 1);
  CHECK(strcmp(entry.args[2].name, "out") == 0 &&
        entry.args[2].role == LCTXRT_ARG_ROLE_OUTPUT &&
        entry.args[2].byte_size == sizeof(out));
  if (report(lctxrt_session_create(artifact, NULL, &session))) {
    ++failures;
    lctxrt_artifact_close(artifact);
    return;
  }
  for (i = 0; i < 6; ++i) {
    x[i] = (float)i;
    y[i] = (float)(i * i);
  }
  inputs[0].name = "x";
  inputs[1].name = "y";
  inputs[0].data = x;
  inputs[1].data = y;
  for (i = 0; i < 2; ++i) {
    inputs[i].dtype = LCTXRT_DTYPE_F32;
    inputs[i].rank = 2;
    inputs[i].shape = shape;
    inputs[i].byte_size = sizeof(x);
  }
  output = inputs[0];
  output.name = "out";
  output.data = out;
  CHECK(!report(lctxrt_session_run(session, "axpy", 2, inputs, 1, &output)));
  for (i = 0; i < 6; ++i)
    CHECK(out[i] == 2.0f * (float)i + (float)(i * i));
  lctxrt_session_close(session);
  lctxrt_artifact_close(artifact);
}

int main(int argc, char **argv) {
  const int64_t shape[2] = {2, 3};
  const int32_t values[6] = {1, -2, 3, -4, 5, -6};
  const uint16_t halves[2] = {0x3c00, 0xc000}; /* 1.0, -2.0 */
  const int64_t halfShape[1] = {2};
  lctxrt_tensor_view_t views[2];
  lctxrt_metadata_entry_t meta[1];
  lctxrt_safetensors_t *file = NULL;
  lctxrt_tensor_info_t info;
  lctxrt_status_t status;
  float converted[2];

  if (argc != 2 && argc != 3) {
    fprintf(stderr, "usage: lctxrt-c-api-test FILE [ARTIFACT]\n");
    return 2;
  }
  views[0].name = "ints";
  views[0].dtype = LCTXRT_DTYPE_I32;
  views[0].rank = 2;
  views[0].shape = shape;
  views[0].data = values;
  views[0].byte_size = sizeof(values);
  views[1].name = "halves";
  views[1].dtype = LCTXRT_DTYPE_F16;
  views[1].rank = 1;
  views[1].shape = halfShape;
  views[1].data = halves;
  views[1].byte_size = sizeof(halves);
  meta[0].key = "producer";
  meta[0].value = "c_api_test";
  if (report(lctxrt_safetensors_write(argv[1], 2, views, 1, meta)))
    return 1;
  if (report(lctxrt_safetensors_open(argv[1], &file)))
    return 1;

  CHECK(lctxrt_safetensors_num_tensors(file) == 2);
  CHECK(strcmp(lctxrt_safetensors_path(file), argv[1]) == 0);
  CHECK(lctxrt_safetensors_metadata(file, "producer") != NULL &&
        strcmp(lctxrt_safetensors_metadata(file, "producer"), "c_api_test") ==
            0);
  CHECK(lctxrt_safetensors_metadata(file, "absent") == NULL);
  if (!report(lctxrt_safetensors_find(file, "ints", &info))) {
    CHECK(info.dtype == LCTXRT_DTYPE_I32);
    CHECK(info.rank == 2 && info.shape[0] == 2 && info.shape[1] == 3);
    CHECK(info.num_elements == 6 && info.byte_size == sizeof(values));
    CHECK(memcmp(info.data, values, sizeof(values)) == 0);
  } else {
    ++failures;
  }
  if (!report(lctxrt_safetensors_tensor_info(file, 1, &info))) {
    CHECK(strcmp(info.name, "halves") == 0);
    CHECK(!report(lctxrt_convert_to_f32(info.data, info.dtype, 2, converted)));
    CHECK(converted[0] == 1.0f && converted[1] == -2.0f);
  } else {
    ++failures;
  }
  status = lctxrt_safetensors_find(file, "missing", &info);
  CHECK(lctxrt_status_code(status) == LCTXRT_NOT_FOUND);
  CHECK(strstr(lctxrt_status_message(status), "'missing'") != NULL);
  lctxrt_status_free(status);
  lctxrt_safetensors_close(file);
  if (argc == 3)
    checkArtifact(argv[2]);

  if (failures)
    fprintf(stderr, "%d check(s) failed\n", failures);
  else
    printf("C API OK\n");
  return failures ? 1 : 0;
}
