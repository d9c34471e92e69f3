/*===- c_api_test.c - The C API used from C99 ---------------------*- C -*-===*\
|*                                                                          *|
|* SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception                  *|
|*                                                                          *|
\*===----------------------------------------------------------------------===*/

/* `lctxrt-c-api-test FILE` writes FILE with the C API, reads it back and
 * checks every field. Compiled as C99 with -pedantic to keep lctxrt.h a C
 * header. Exits non-zero on the first mismatch. */

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

  if (argc != 2) {
    fprintf(stderr, "usage: lctxrt-c-api-test FILE\n");
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

  if (failures)
    fprintf(stderr, "%d check(s) failed\n", failures);
  else
    printf("C API OK\n");
  return failures ? 1 : 0;
}
