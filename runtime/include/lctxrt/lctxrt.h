//===- lctxrt/lctxrt.h - lctx runtime C API -----------------------*- C -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The C API of lctxrt, the runtime library of the lctx compiler: dtypes,
/// safetensors weight files, compiled artifacts (docs/artifact.md) and
/// sessions that run their entry points on the CPU. The header is C99 and
/// C++ compatible and has no dependencies beyond the C library. The byte
/// layout of artifacts is defined in lctxrt/artifact_format.h (C++).
///
/// Conventions shared by every function:
///  - Fallible functions return an lctxrt_status_t. NULL means success; any
///    other value describes an error, is owned by the caller and must be
///    released with lctxrt_status_free().
///  - Results are returned through pointer parameters named `out*`. On
///    failure they are set to NULL / zero when the pointer itself is valid.
///  - Objects are opaque handles created by `*_open` and destroyed by
///    `*_close`; `*_close(NULL)` is a no-op.
///  - Strings are NUL-terminated UTF-8. Strings and pointers returned by a
///    handle stay valid until that handle is closed.
///  - No function throws a C++ exception, aborts, or prints on bad input.
///  - Thread safety: distinct handles may be used from distinct threads.
///    Functions taking a `const` handle may run concurrently on the same
///    handle; `*_close` must not race with any other use of that handle.
///
//===----------------------------------------------------------------------===//

#ifndef LCTXRT_LCTXRT_H
#define LCTXRT_LCTXRT_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) && !defined(_WIN32)
#define LCTXRT_API __attribute__((visibility("default")))
#else
#define LCTXRT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

//===----------------------------------------------------------------------===//
// Status
//===----------------------------------------------------------------------===//

/// Error categories. The numeric values are part of the ABI.
typedef enum lctxrt_status_code_t {
  LCTXRT_OK = 0,
  /// A caller-supplied argument is invalid (NULL pointer, bad index, ...).
  LCTXRT_INVALID_ARGUMENT = 1,
  /// A named entity (file, tensor) does not exist.
  LCTXRT_NOT_FOUND = 2,
  /// The operating system reported an I/O failure.
  LCTXRT_IO_ERROR = 3,
  /// A file's contents violate its format.
  LCTXRT_FORMAT_ERROR = 4,
  /// An allocation failed.
  LCTXRT_OUT_OF_MEMORY = 5,
  /// Valid input that this runtime does not support (yet).
  LCTXRT_UNSUPPORTED = 6,
  /// A bug in lctxrt.
  LCTXRT_INTERNAL = 7,
  /// A required system component is missing: no CUDA driver, no CUDA
  /// device.
  LCTXRT_UNAVAILABLE = 8,
  /// The device or its driver reported an error while running code (a
  /// failed kernel launch or copy). The session should be closed.
  LCTXRT_DEVICE_ERROR = 9,
  /// The call would take the stream past what the session's state holds
  /// (a decode cache of T positions is full): reset the state or start a
  /// new window.
  LCTXRT_OUT_OF_RANGE = 10,
  /// Not a code; makes any int32 value well-defined for the enum type.
  LCTXRT_STATUS_CODE_MAX_ENUM = 0x7fffffff
} lctxrt_status_code_t;

/// An error: a code plus a human-readable message. NULL means success.
typedef struct lctxrt_status *lctxrt_status_t;

/// Returns the code of \p status; LCTXRT_OK for NULL.
LCTXRT_API lctxrt_status_code_t lctxrt_status_code(lctxrt_status_t status);

/// Returns the message of \p status ("OK" for NULL). The string is owned by
/// \p status and valid until it is freed.
LCTXRT_API const char *lctxrt_status_message(lctxrt_status_t status);

/// Releases \p status. NULL is a no-op.
LCTXRT_API void lctxrt_status_free(lctxrt_status_t status);

/// Returns the enumerator name of \p code without prefix, e.g. "NOT_FOUND",
/// or "UNKNOWN" for a value outside the enum. The string is static.
LCTXRT_API const char *lctxrt_status_code_name(lctxrt_status_code_t code);

//===----------------------------------------------------------------------===//
// Element types
//===----------------------------------------------------------------------===//

/// Tensor element types. The numeric values are part of the ABI.
typedef enum lctxrt_dtype_t {
  LCTXRT_DTYPE_F32 = 0,
  LCTXRT_DTYPE_F16 = 1,
  LCTXRT_DTYPE_BF16 = 2,
  LCTXRT_DTYPE_F64 = 3,
  LCTXRT_DTYPE_I64 = 4,
  LCTXRT_DTYPE_I32 = 5,
  LCTXRT_DTYPE_I8 = 6,
  LCTXRT_DTYPE_U8 = 7,
  /// One byte per element, 0 or 1.
  LCTXRT_DTYPE_BOOL = 8,
  /// complex<f32>: two F32 (real, imaginary); 8 bytes, 4-byte aligned.
  LCTXRT_DTYPE_C64 = 9,
  /// Not a dtype; makes any int32 value well-defined for the enum type, so
  /// that functions can reject invalid values instead of invoking undefined
  /// behaviour in C++.
  LCTXRT_DTYPE_MAX_ENUM = 0x7fffffff
} lctxrt_dtype_t;

/// Returns the size in bytes of one element of \p dtype, or 0 if \p dtype is
/// not an lctxrt_dtype_t enumerator.
LCTXRT_API size_t lctxrt_dtype_size(lctxrt_dtype_t dtype);

/// Returns the safetensors spelling of \p dtype ("F32", "BF16", ...), or NULL
/// if \p dtype is not an enumerator. The string is static.
LCTXRT_API const char *lctxrt_dtype_name(lctxrt_dtype_t dtype);

/// Parses a safetensors dtype spelling (case-sensitive) into \p out.
/// Errors: INVALID_ARGUMENT for NULL pointers, UNSUPPORTED for a safetensors
/// dtype that lctxrt does not handle (e.g. "F8_E4M3"), NOT_FOUND otherwise.
LCTXRT_API lctxrt_status_t lctxrt_dtype_from_name(const char *name,
                                                  lctxrt_dtype_t *out);

/// Converts \p count elements of type \p src_dtype at \p src to float at
/// \p dst. Supports F32 (bitwise copy), F16 (exact, including subnormals,
/// infinities and NaN with sign and payload) and BF16 (exact, by shifting).
/// \p src needs no particular alignment; \p src and \p dst must not overlap.
/// Errors: INVALID_ARGUMENT for NULL pointers when \p count > 0,
/// UNSUPPORTED for any other dtype.
LCTXRT_API lctxrt_status_t lctxrt_convert_to_f32(const void *src,
                                                 lctxrt_dtype_t src_dtype,
                                                 size_t count, float *dst);

//===----------------------------------------------------------------------===//
// Safetensors files
//===----------------------------------------------------------------------===//

/// The maximum tensor rank lctxrt handles.
#define LCTXRT_MAX_RANK 8

/// The largest safetensors header (JSON) accepted, in bytes.
#define LCTXRT_SAFETENSORS_MAX_HEADER_SIZE 100000000u

/// A safetensors file, memory-mapped read-only and fully validated on open.
/// Immutable after open: all query functions are thread-safe.
typedef struct lctxrt_safetensors lctxrt_safetensors_t;

/// Describes one tensor of an open file. All pointers point into the file
/// handle (the name) or its read-only mapping (the data) and stay valid until
/// the handle is closed. The data must not be written.
typedef struct lctxrt_tensor_info_t {
  /// Tensor name; never contains an embedded NUL.
  const char *name;
  lctxrt_dtype_t dtype;
  /// Number of dimensions, 0 (scalar) to LCTXRT_MAX_RANK.
  size_t rank;
  /// Dimensions; entries at and after `rank` are 0.
  int64_t shape[LCTXRT_MAX_RANK];
  /// Product of the dimensions (1 for a scalar).
  size_t num_elements;
  /// First byte of the data, aligned as the file places it. Never NULL.
  const void *data;
  /// num_elements * lctxrt_dtype_size(dtype).
  size_t byte_size;
} lctxrt_tensor_info_t;

/// Opens and validates the safetensors file at \p path. On success \p *out
/// owns the file; release it with lctxrt_safetensors_close().
/// Errors: INVALID_ARGUMENT (NULL pointers), NOT_FOUND (no such file),
/// IO_ERROR (cannot open/map, not a regular file), FORMAT_ERROR (malformed
/// file), UNSUPPORTED (valid safetensors beyond lctxrt's support, e.g. rank
/// > LCTXRT_MAX_RANK or an F8 dtype), OUT_OF_MEMORY. Messages start with
/// \p path and name the offending tensor where there is one.
LCTXRT_API lctxrt_status_t lctxrt_safetensors_open(const char *path,
                                                   lctxrt_safetensors_t **out);

/// Unmaps and releases \p file. NULL is a no-op.
LCTXRT_API void lctxrt_safetensors_close(lctxrt_safetensors_t *file);

/// Returns the path \p file was opened with.
LCTXRT_API const char *
lctxrt_safetensors_path(const lctxrt_safetensors_t *file);

/// Returns the number of tensors in \p file (0 for NULL).
LCTXRT_API size_t
lctxrt_safetensors_num_tensors(const lctxrt_safetensors_t *file);

/// Describes tensor \p index of \p file into \p out_info. Tensors are
/// numbered in the order of the file's JSON header.
/// Errors: INVALID_ARGUMENT (NULL pointer, index out of range).
LCTXRT_API lctxrt_status_t
lctxrt_safetensors_tensor_info(const lctxrt_safetensors_t *file, size_t index,
                               lctxrt_tensor_info_t *out_info);

/// Describes the tensor named \p name into \p out_info.
/// Errors: INVALID_ARGUMENT (NULL pointer), NOT_FOUND naming the tensor and
/// the file.
LCTXRT_API lctxrt_status_t
lctxrt_safetensors_find(const lctxrt_safetensors_t *file, const char *name,
                        lctxrt_tensor_info_t *out_info);

/// Returns the `__metadata__` value for \p key, or NULL if there is none.
LCTXRT_API const char *
lctxrt_safetensors_metadata(const lctxrt_safetensors_t *file, const char *key);

/// Returns the number of `__metadata__` entries of \p file.
LCTXRT_API size_t
lctxrt_safetensors_num_metadata(const lctxrt_safetensors_t *file);

/// Returns `__metadata__` entry \p index (header order) through \p out_key
/// and \p out_value. Errors: INVALID_ARGUMENT (NULL, index out of range).
LCTXRT_API lctxrt_status_t lctxrt_safetensors_metadata_entry(
    const lctxrt_safetensors_t *file, size_t index, const char **out_key,
    const char **out_value);

/// A caller-owned tensor to be written.
typedef struct lctxrt_tensor_view_t {
  /// Non-empty UTF-8 name, unique within the file, not "__metadata__".
  const char *name;
  lctxrt_dtype_t dtype;
  /// 0 to LCTXRT_MAX_RANK.
  size_t rank;
  /// `rank` non-negative dimensions; may be NULL when rank is 0.
  const int64_t *shape;
  /// `byte_size` bytes; may be NULL when byte_size is 0.
  const void *data;
  /// Must equal product(shape) * lctxrt_dtype_size(dtype).
  size_t byte_size;
} lctxrt_tensor_view_t;

/// One `__metadata__` entry: UTF-8 key and value.
typedef struct lctxrt_metadata_entry_t {
  const char *key;
  const char *value;
} lctxrt_metadata_entry_t;

/// Writes a safetensors file at \p path holding \p num_tensors tensors and
/// \p num_metadata `__metadata__` entries (keys must be unique). The header
/// lists tensors in the given order and is space-padded to a multiple of 8
/// bytes. The data section has no gaps (other readers reject gaps) and holds
/// tensors by decreasing element size, so every tensor starts at a file
/// offset that is a multiple of its element size. The file is written to
/// `<path>.tmp` and renamed over \p path on success; on failure no file is
/// left behind. Thread-safe for distinct paths.
/// Errors: INVALID_ARGUMENT (bad tensor or metadata), IO_ERROR.
LCTXRT_API lctxrt_status_t lctxrt_safetensors_write(
    const char *path, size_t num_tensors, const lctxrt_tensor_view_t *tensors,
    size_t num_metadata, const lctxrt_metadata_entry_t *metadata);

//===----------------------------------------------------------------------===//
// Artifacts
//===----------------------------------------------------------------------===//

/// A compiled `.lctx` artifact (docs/artifact.md), fully validated on open:
/// container, checksum, manifest, and the code of every entry point
/// (loaded, every symbol resolved). Immutable after open: queries are
/// thread-safe, and any number of sessions may share one artifact.
typedef struct lctxrt_artifact lctxrt_artifact_t;

/// The role of an entry point argument. The numeric values are part of the
/// ABI.
typedef enum lctxrt_arg_role_t {
  /// Supplied by the caller on every run.
  LCTXRT_ARG_ROLE_INPUT = 0,
  /// Bound by name to a tensor of the weights file when a session is created.
  LCTXRT_ARG_ROLE_WEIGHT = 1,
  /// Written by the entry point.
  LCTXRT_ARG_ROLE_OUTPUT = 2,
  /// Runtime-owned recurrent state: the session passes the value it holds
  /// for the named state (zeros when the session is created or reset) as
  /// the state_in argument, and keeps what the entry point writes to the
  /// state_out argument of the same name as the state's next value.
  LCTXRT_ARG_ROLE_STATE_IN = 3,
  LCTXRT_ARG_ROLE_STATE_OUT = 4,
  /// Not a role; makes any int32 value well-defined for the enum type.
  LCTXRT_ARG_ROLE_MAX_ENUM = 0x7fffffff
} lctxrt_arg_role_t;

/// Returns the manifest spelling of \p role ("input", "weight", "output",
/// "state_in", "state_out"), or NULL for a value outside the enum.
LCTXRT_API const char *lctxrt_arg_role_name(lctxrt_arg_role_t role);

/// Describes one entry point argument, one manifest weight or one manifest
/// state. Pointers are owned by the artifact. Both arguments of a state
/// carry the state's name.
typedef struct lctxrt_arg_info_t {
  const char *name;
  lctxrt_arg_role_t role;
  lctxrt_dtype_t dtype;
  /// 0 (scalar) to LCTXRT_MAX_RANK.
  size_t rank;
  /// Static dimensions; entries at and after `rank` are 0.
  int64_t shape[LCTXRT_MAX_RANK];
  /// Product of the dimensions (1 for a scalar).
  size_t num_elements;
  /// num_elements * lctxrt_dtype_size(dtype).
  size_t byte_size;
} lctxrt_arg_info_t;

/// Describes one entry point. Pointers are owned by the artifact.
typedef struct lctxrt_entry_point_info_t {
  const char *name;
  /// The exported `void symbol(void **args)` function.
  const char *symbol;
  /// The name of the section holding the code.
  const char *section;
  /// Arguments in calling-convention order: args[i] is the i-th pointer of
  /// the `void **` the entry point receives.
  size_t num_args;
  const lctxrt_arg_info_t *args;
  /// How many of the arguments have each role.
  size_t num_inputs;
  size_t num_weights;
  size_t num_outputs;
  /// States the entry point reads and updates (each has one state_in and
  /// one state_out argument).
  size_t num_states;
} lctxrt_entry_point_info_t;

/// Manifest and container facts of an artifact. Strings are "" when the
/// manifest omits the optional key.
typedef struct lctxrt_artifact_info_t {
  /// The manifest "version" (equal to the container version, 1).
  uint32_t version;
  const char *producer;
  const char *target_kind;
  const char *target_triple;
  const char *target_cpu;
  const char *target_features;
  /// The alignment, in bytes, of every buffer passed to an entry point
  /// beyond that of its element type: the manifest's optional
  /// "buffer_alignment" (a power of two, 1 to 4096), default 64.
  size_t buffer_alignment;
  size_t num_sections;
  size_t num_entry_points;
  size_t num_weights;
  /// Runtime-owned states (the manifest's "states") and their total size:
  /// what every session holds, whatever the length of its stream.
  size_t num_states;
  size_t state_bytes;
  /// The manifest's optional "gpu" object (GPU kernels of a `--target=cuda`
  /// artifact; docs/artifact.md): kind ("cuda"), arch ("sm_90"), the
  /// kernel section's name and format ("cubin" or "ptx"), the number of
  /// kernel launches in the host code, and the prefix of the GPU entry
  /// symbols (`<entry_prefix><entry name>`; "" when the artifact has no GPU
  /// entry points and so cannot run on LCTXRT_DEVICE_CUDA). All "" / 0
  /// without "gpu".
  const char *gpu_kind;
  const char *gpu_arch;
  const char *gpu_section;
  const char *gpu_format;
  size_t gpu_kernels;
  const char *gpu_entry_prefix;
} lctxrt_artifact_info_t;

/// Describes one section of the container.
typedef struct lctxrt_section_info_t {
  /// The `kind` field and its name ("manifest", "cpu.so", "ptx", "cubin").
  uint32_t kind;
  const char *kind_name;
  const char *name;
  uint64_t offset;
  uint64_t size;
} lctxrt_section_info_t;

/// Opens and validates the artifact at \p path and loads its CPU code; see
/// docs/artifact.md and runtime/README.md for every rule. On success
/// \p *out owns the artifact; release it with lctxrt_artifact_close().
/// Errors: INVALID_ARGUMENT (NULL pointers), NOT_FOUND (no such file),
/// IO_ERROR (cannot read, not a regular file), FORMAT_ERROR (malformed
/// container, manifest or code; missing symbol), UNSUPPORTED (a version,
/// target, dtype, role or section kind this runtime cannot run),
/// OUT_OF_MEMORY. Messages start with \p path and name the field.
LCTXRT_API lctxrt_status_t lctxrt_artifact_open(const char *path,
                                                lctxrt_artifact_t **out);

/// Unloads and releases \p artifact. NULL is a no-op. Every session created
/// from it must be closed first.
LCTXRT_API void lctxrt_artifact_close(lctxrt_artifact_t *artifact);

/// Returns the path \p artifact was opened with.
LCTXRT_API const char *lctxrt_artifact_path(const lctxrt_artifact_t *artifact);

/// Returns the manifest JSON text, NUL-terminated.
LCTXRT_API const char *
lctxrt_artifact_manifest_json(const lctxrt_artifact_t *artifact);

/// Describes \p artifact into \p out_info.
/// Errors: INVALID_ARGUMENT (NULL pointer).
LCTXRT_API lctxrt_status_t lctxrt_artifact_info(
    const lctxrt_artifact_t *artifact, lctxrt_artifact_info_t *out_info);

/// Returns the number of sections (0 for NULL).
LCTXRT_API size_t
lctxrt_artifact_num_sections(const lctxrt_artifact_t *artifact);

/// Describes section \p index (section table order) into \p out_info.
/// Errors: INVALID_ARGUMENT (NULL pointer, index out of range).
LCTXRT_API lctxrt_status_t
lctxrt_artifact_section_info(const lctxrt_artifact_t *artifact, size_t index,
                             lctxrt_section_info_t *out_info);

/// Returns the number of entry points (0 for NULL).
LCTXRT_API size_t
lctxrt_artifact_num_entry_points(const lctxrt_artifact_t *artifact);

/// Describes entry point \p index (manifest order) into \p out_info.
/// Errors: INVALID_ARGUMENT (NULL pointer, index out of range).
LCTXRT_API lctxrt_status_t lctxrt_artifact_entry_point_info(
    const lctxrt_artifact_t *artifact, size_t index,
    lctxrt_entry_point_info_t *out_info);

/// Describes the entry point named \p name into \p out_info.
/// Errors: INVALID_ARGUMENT (NULL pointer), NOT_FOUND.
LCTXRT_API lctxrt_status_t lctxrt_artifact_find_entry_point(
    const lctxrt_artifact_t *artifact, const char *name,
    lctxrt_entry_point_info_t *out_info);

/// Returns the number of entries of the manifest's "weights" (0 for NULL).
LCTXRT_API size_t
lctxrt_artifact_num_weights(const lctxrt_artifact_t *artifact);

/// Describes manifest weight \p index into \p out_info (role WEIGHT).
/// Errors: INVALID_ARGUMENT (NULL pointer, index out of range).
LCTXRT_API lctxrt_status_t
lctxrt_artifact_weight_info(const lctxrt_artifact_t *artifact, size_t index,
                            lctxrt_arg_info_t *out_info);

/// Returns the value of \p key in the manifest's optional "model"
/// description (what the tools that drive a model need: its architecture,
/// decode schedule, patch size, ...), integers in decimal; NULL when the
/// key or the description is absent.
LCTXRT_API const char *lctxrt_artifact_model_value(
    const lctxrt_artifact_t *artifact, const char *key);

/// Returns the number of entries of the manifest's "states" (0 for NULL).
LCTXRT_API size_t
lctxrt_artifact_num_states(const lctxrt_artifact_t *artifact);

/// Describes manifest state \p index into \p out_info (role STATE_IN).
/// Errors: INVALID_ARGUMENT (NULL pointer, index out of range).
LCTXRT_API lctxrt_status_t
lctxrt_artifact_state_info(const lctxrt_artifact_t *artifact, size_t index,
                           lctxrt_arg_info_t *out_info);

//===----------------------------------------------------------------------===//
// Sessions
//===----------------------------------------------------------------------===//

/// An executor of an artifact's entry points with its weights bound. A
/// session is not thread-safe: calls on one session must not overlap.
/// Distinct sessions (also over the same artifact and weights) may run
/// concurrently.
typedef struct lctxrt_session lctxrt_session_t;

/// Counters of a session, for diagnostics.
typedef struct lctxrt_session_stats_t {
  /// Weights bound in place from the weights file's mapping.
  size_t weights_zero_copy;
  /// Weights copied into aligned buffers because their data is not aligned
  /// as lctxrt_artifact_info_t::buffer_alignment requires.
  size_t weights_copied;
  size_t weight_bytes_copied;
  /// Successful lctxrt_session_run() calls.
  size_t runs;
  /// Bytes of caller inputs and outputs copied through aligned buffers
  /// because the caller's buffers were misaligned, over all runs.
  size_t input_bytes_copied;
  size_t output_bytes_copied;
  /// GPU sessions: the device time of the last successful run's entry
  /// point in milliseconds (CUDA events around its work on the session's
  /// stream, without the copies of inputs and outputs); -1 otherwise.
  double last_device_ms;
} lctxrt_session_stats_t;

/// Creates a session running \p artifact with the weights of \p weights,
/// which may be NULL when the manifest lists no weights. Every manifest
/// weight must exist in \p weights with the same dtype and shape (other
/// tensors are ignored). Weights are used in place from the read-only
/// mapping when suitably aligned, and copied otherwise. \p artifact and
/// \p weights are borrowed and must stay open until the session is closed.
/// Errors: INVALID_ARGUMENT (NULL pointers, no weights file but weights
/// needed, dtype or shape mismatch), NOT_FOUND (a weight missing from the
/// file), OUT_OF_MEMORY. Messages name the tensor, expected and actual.
LCTXRT_API lctxrt_status_t lctxrt_session_create(
    const lctxrt_artifact_t *artifact, const lctxrt_safetensors_t *weights,
    lctxrt_session_t **out);

/// Where a session runs its entry points. The numeric values are part of
/// the ABI.
typedef enum lctxrt_device_t {
  /// The host CPU: the entry points' `symbol`.
  LCTXRT_DEVICE_CPU = 0,
  /// An NVIDIA GPU through the CUDA driver (libcuda.so.1, loaded at run
  /// time): the GPU entry points of a `--target=cuda` artifact
  /// (docs/runtime-cuda.md).
  LCTXRT_DEVICE_CUDA = 1,
  /// Not a device; makes any int32 value well-defined for the enum type.
  LCTXRT_DEVICE_FORCE_32BIT = 0x7fffffff
} lctxrt_device_t;

/// Options of lctxrt_session_create_with_options(). Zero-initialized
/// options mean the CPU.
typedef struct lctxrt_session_options_t {
  lctxrt_device_t device;
  /// The CUDA device ordinal (0 = the first GPU); ignored for the CPU.
  int32_t device_index;
} lctxrt_session_options_t;

/// Creates a session like lctxrt_session_create() on the device chosen by
/// \p options (NULL: the CPU, exactly lctxrt_session_create()).
///
/// For LCTXRT_DEVICE_CUDA the artifact must carry GPU entry points
/// (lctxrt_artifact_info_t::gpu_entry_prefix not empty); the CUDA driver is
/// loaded (`$LCTXRT_LIBCUDA`, default libcuda.so.1), the artifact's kernels
/// are loaded onto device `device_index` to check they suit it, weights are
/// uploaded to device memory and states allocated there. From the caller's
/// view such a session behaves like a CPU one: inputs, outputs and state
/// values are host buffers. See docs/runtime-cuda.md.
/// Errors: those of lctxrt_session_create(); INVALID_ARGUMENT (unknown
/// device, negative or out-of-range device index); UNSUPPORTED (the
/// artifact has no GPU code, or kernels for another GPU architecture, or
/// its code calls a GPU runtime function this runtime lacks);
/// FORMAT_ERROR (a GPU entry symbol or the kernel section is missing);
/// UNAVAILABLE (no CUDA driver or no CUDA device); DEVICE_ERROR;
/// OUT_OF_MEMORY (device memory).
LCTXRT_API lctxrt_status_t lctxrt_session_create_with_options(
    const lctxrt_artifact_t *artifact, const lctxrt_safetensors_t *weights,
    const lctxrt_session_options_t *options, lctxrt_session_t **out);

/// Returns the device \p session runs on (LCTXRT_DEVICE_CPU for NULL).
LCTXRT_API lctxrt_device_t lctxrt_session_device(
    const lctxrt_session_t *session);

/// Returns "cpu" or "cuda" for \p device, NULL for a value outside the
/// enum.
LCTXRT_API const char *lctxrt_device_name(lctxrt_device_t device);

/// Parses "cpu" or "cuda" into \p out. Errors: INVALID_ARGUMENT (NULL
/// pointer, any other name).
LCTXRT_API lctxrt_status_t lctxrt_device_from_name(const char *name,
                                                   lctxrt_device_t *out);

/// Releases \p session and every buffer it allocated. NULL is a no-op.
LCTXRT_API void lctxrt_session_close(lctxrt_session_t *session);

/// Runs the entry point \p entry.
///
/// States are not named by the caller: each state_in argument receives the
/// session's current value of its state, and after a successful call the
/// state_out value becomes the current one (a failed call changes no
/// state), so consecutive runs continue one stream.
///
/// \p inputs name every input argument exactly once (any order); dtype,
/// rank, shape and byte_size must match the manifest. Input data is only
/// read.
///
/// \p outputs name any subset of the output arguments (outputs not named
/// are computed into runtime buffers and discarded). For each one:
///  - data != NULL: the caller's buffer (the const qualifier of the view is
///    cast away and the buffer written); dtype, rank, shape and byte_size
///    must match the manifest, and it must not overlap any other input or
///    output buffer;
///  - data == NULL: the runtime fills dtype, rank, shape, byte_size and
///    data; the data stays valid until the next lctxrt_session_run() on
///    this session or lctxrt_session_close(), and `shape` until the artifact
///    is closed.
/// Buffers that are not aligned as the artifact requires are copied
/// through aligned runtime buffers. On failure no entry point was called
/// and outputs are unchanged.
/// Errors: INVALID_ARGUMENT (NULL pointers, unknown, duplicate or missing
/// arguments, mismatched dtype/shape/size, overlapping outputs), NOT_FOUND
/// (no entry point \p entry), OUT_OF_MEMORY.
LCTXRT_API lctxrt_status_t
lctxrt_session_run(lctxrt_session_t *session, const char *entry,
                   size_t num_inputs, const lctxrt_tensor_view_t *inputs,
                   size_t num_outputs, lctxrt_tensor_view_t *outputs);

/// Sets every state of \p session to zeros, its value at creation (a new
/// stream). Errors: INVALID_ARGUMENT (NULL pointer).
LCTXRT_API lctxrt_status_t lctxrt_session_reset_state(lctxrt_session_t *session);

/// Describes the current value of the state named \p name into \p out:
/// dtype, rank, shape, byte_size and data (read-only, owned by the session,
/// valid until the next run, reset, write or close of \p session; `shape`
/// until the artifact is closed). `name` is set to the state's name.
/// Errors: INVALID_ARGUMENT (NULL pointer), NOT_FOUND (no such state).
LCTXRT_API lctxrt_status_t lctxrt_session_read_state(
    const lctxrt_session_t *session, const char *name,
    lctxrt_tensor_view_t *out);

/// Copies \p value into the state named `value->name` (to resume a saved
/// stream). dtype, rank, shape and byte_size must match the manifest.
/// Errors: INVALID_ARGUMENT (NULL pointer, mismatch), NOT_FOUND (no such
/// state).
LCTXRT_API lctxrt_status_t lctxrt_session_write_state(
    lctxrt_session_t *session, const lctxrt_tensor_view_t *value);

/// Fills \p out_stats with the counters of \p session.
/// Errors: INVALID_ARGUMENT (NULL pointer).
LCTXRT_API lctxrt_status_t lctxrt_session_stats(
    const lctxrt_session_t *session, lctxrt_session_stats_t *out_stats);

#ifdef __cplusplus
} // extern "C"
#endif

#endif // LCTXRT_LCTXRT_H
