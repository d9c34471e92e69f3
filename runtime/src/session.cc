//===- session.cc - CPU executor of artifact entry points -------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// A session binds an artifact's weights once and then runs its entry
/// points. For each entry point it keeps a plan: one memref descriptor per
/// argument (docs/artifact.md, "Calling convention"), with shapes and
/// row-major strides filled in at creation and weight pointers fixed, so a
/// run only validates the caller's tensors, stores their data pointers and
/// calls the function.
///
/// Every pointer handed to an entry point is aligned to
/// max(buffer_alignment, element alignment); caller buffers that are not
/// are copied through runtime buffers, allocated 64-byte aligned (or more)
/// on first use and reused by later runs.
///
/// Runtime-owned recurrent state (roles state_in and state_out) is a third
/// kind of session-owned binding next to weights: two zeroed buffers per
/// manifest state, the current value passed as state_in and the other as
/// state_out; after a successful run the two swap, so the next run (of any
/// entry point using the state) continues the stream. Nothing is copied.
///
//===----------------------------------------------------------------------===//

#include "artifact.h"

#include "cuda_session.h"
#include "kernel_alloc.h"
#include "status.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

using lctxrt::ArgSpec;
using lctxrt::makeStatus;

static_assert(sizeof(void *) == sizeof(int64_t),
              "memref descriptors assume 64-bit pointers");

namespace {

/// The alignment of every buffer the runtime allocates (docs/artifact.md).
constexpr size_t kMinAllocationAlignment = 64;

/// Stands in for the data of zero-byte tensors, so descriptors never hold
/// NULL; aligned for any buffer_alignment. Never written.
alignas(4096) unsigned char gEmptyTensor[64];

/// An owned, aligned, zero-initialized allocation that only grows.
class AlignedBuffer {
public:
  AlignedBuffer() = default;
  AlignedBuffer(AlignedBuffer &&other) noexcept
      : ptr(std::exchange(other.ptr, nullptr)),
        capacity(std::exchange(other.capacity, 0)) {}
  AlignedBuffer &operator=(AlignedBuffer &&other) noexcept {
    std::swap(ptr, other.ptr);
    std::swap(capacity, other.capacity);
    return *this;
  }
  ~AlignedBuffer() { std::free(ptr); }

  /// Makes data() hold at least \p size bytes aligned to \p alignment (a
  /// power of two, at least sizeof(void *)). Returns false when out of
  /// memory.
  bool reserve(size_t size, size_t alignment) {
    if (ptr && capacity >= size &&
        reinterpret_cast<uintptr_t>(ptr) % alignment == 0)
      return true;
    size_t rounded =
        (std::max<size_t>(size, 1) + alignment - 1) / alignment * alignment;
    void *fresh = nullptr;
    if (::posix_memalign(&fresh, alignment, rounded) != 0)
      return false;
    std::memset(fresh, 0, rounded);
    std::free(ptr);
    ptr = fresh;
    capacity = rounded;
    return true;
  }
  void *data() const { return ptr; }

private:
  void *ptr = nullptr;
  size_t capacity = 0;
};

/// One argument of an entry point plan.
struct BoundArg {
  const ArgSpec *spec = nullptr;
  /// allocated, aligned, offset, sizes[rank], strides[rank].
  std::vector<int64_t> descriptor;
  /// Runtime buffer for misaligned or runtime-allocated data.
  AlignedBuffer scratch;

  void setData(const void *data) {
    descriptor[0] = descriptor[1] =
        static_cast<int64_t>(reinterpret_cast<intptr_t>(data));
  }
};

/// The two buffers of one runtime-owned state: `buffers[current]` holds its
/// value.
struct StateSlot {
  const ArgSpec *spec = nullptr;
  AlignedBuffer buffers[2];
  int current = 0;

  void *value() const {
    return spec->type.byteSize ? buffers[current].data() : gEmptyTensor;
  }
  void *next() const {
    return spec->type.byteSize ? buffers[1 - current].data() : gEmptyTensor;
  }
};

/// What a session needs to run one entry point.
struct EntryPlan {
  const lctxrt::EntryPointSpec *entry = nullptr;
  lctxrt::EntryFunction function = nullptr;
  std::vector<BoundArg> args;
  /// args[i].descriptor.data(), the `void **` passed to the function.
  std::vector<void *> argv;
};

bool isAligned(const void *data, size_t alignment) {
  return reinterpret_cast<uintptr_t>(data) % alignment == 0;
}

} // namespace

/// The object behind lctxrt_session_t.
struct lctxrt_session {
  const lctxrt_artifact_t *artifact = nullptr;
  const lctxrt_safetensors_t *weights = nullptr;
  /// Buffer alignment the code assumes, and the one the runtime allocates.
  size_t bufferAlignment = 64;
  size_t allocationAlignment = 64;
  /// Data passed for each manifest weight, by name; copies own theirs.
  std::unordered_map<std::string, const void *> weightData;
  std::vector<AlignedBuffer> weightCopies;
  /// Per manifest state, in manifest order.
  std::vector<StateSlot> states;
  /// Per entry point, in manifest order.
  std::vector<EntryPlan> plans;
  lctxrt_session_stats_t stats = {};
  /// The device; for LCTXRT_DEVICE_CUDA, `cuda` runs the entry points and
  /// owns weights and states (`states` and `plans` are then empty).
  lctxrt_device_t device = LCTXRT_DEVICE_CPU;
  lctxrt::cuda::SessionPtr cuda;

  size_t requiredAlignment(lctxrt_dtype_t dtype) const {
    return std::max(bufferAlignment, lctxrt::elementAlignment(dtype));
  }
};

namespace {

/// Binds every manifest weight of \p session to the weights file.
lctxrt_status_t bindWeights(lctxrt_session &session) {
  const lctxrt_artifact_t &art = *session.artifact;
  const std::vector<ArgSpec> &weights = art.manifest.weights;
  if (!weights.empty() && !session.weights)
    return makeStatus(
        LCTXRT_INVALID_ARGUMENT,
        art.path + ": needs a weights file: weight '" + weights[0].name +
            "' (" + lctxrt::typeString(weights[0].type) + ")" +
            (weights.size() > 1
                 ? " and " + std::to_string(weights.size() - 1) + " more"
                 : std::string()) +
            ", but no weights file was given");
  for (const ArgSpec &weight : weights) {
    const std::string weightsPath = lctxrt_safetensors_path(session.weights);
    lctxrt_tensor_info_t info;
    lctxrt_status_t found =
        lctxrt_safetensors_find(session.weights, weight.name.c_str(), &info);
    if (found) {
      lctxrt_status_code_t code = lctxrt_status_code(found);
      lctxrt_status_free(found);
      if (code != LCTXRT_NOT_FOUND)
        return makeStatus(code, weightsPath + ": cannot look up tensor '" +
                                    weight.name + "'");
      return makeStatus(LCTXRT_NOT_FOUND, weightsPath + ": no tensor '" +
                                              weight.name + "'; the artifact " +
                                              art.path + " expects " +
                                              lctxrt::typeString(weight.type));
    }
    lctxrt::TensorType actual;
    actual.dtype = info.dtype;
    actual.shape.assign(info.shape, info.shape + info.rank);
    if (actual != weight.type)
      return makeStatus(LCTXRT_INVALID_ARGUMENT,
                        weightsPath + ": tensor '" + weight.name + "' is " +
                            lctxrt::typeString(actual) + ", but the artifact " +
                            art.path + " expects " +
                            lctxrt::typeString(weight.type));
    const void *data = info.data;
    if (info.byte_size == 0) {
      data = gEmptyTensor;
    } else if (session.device == LCTXRT_DEVICE_CUDA) {
      // Uploaded to the device from the mapping, whatever its alignment.
    } else if (!isAligned(data, session.requiredAlignment(info.dtype))) {
      AlignedBuffer copy;
      if (!copy.reserve(info.byte_size, session.allocationAlignment))
        return lctxrt::outOfMemoryStatus();
      std::memcpy(copy.data(), info.data, info.byte_size);
      data = copy.data();
      session.weightCopies.push_back(std::move(copy));
      ++session.stats.weights_copied;
      session.stats.weight_bytes_copied += info.byte_size;
    } else {
      ++session.stats.weights_zero_copy;
    }
    session.weightData.emplace(weight.name, data);
  }
  return nullptr;
}

/// Allocates the zeroed buffers of every manifest state of \p session.
lctxrt_status_t allocateStates(lctxrt_session &session) {
  const std::vector<ArgSpec> &states = session.artifact->manifest.states;
  session.states.resize(states.size());
  for (size_t i = 0; i < states.size(); ++i) {
    StateSlot &slot = session.states[i];
    slot.spec = &states[i];
    if (slot.spec->type.byteSize == 0)
      continue;
    for (AlignedBuffer &buffer : slot.buffers)
      if (!buffer.reserve(slot.spec->type.byteSize,
                          session.allocationAlignment))
        return lctxrt::outOfMemoryStatus();
  }
  return nullptr;
}

/// Builds the plan of every entry point of \p session.
void buildPlans(lctxrt_session &session) {
  const lctxrt_artifact_t &art = *session.artifact;
  session.plans.resize(art.manifest.entryPoints.size());
  for (size_t e = 0; e < session.plans.size(); ++e) {
    EntryPlan &plan = session.plans[e];
    plan.entry = &art.manifest.entryPoints[e];
    plan.function = art.entryFunctions[e];
    plan.args.resize(plan.entry->args.size());
    for (size_t a = 0; a < plan.args.size(); ++a) {
      BoundArg &arg = plan.args[a];
      arg.spec = &plan.entry->args[a];
      const std::vector<int64_t> &shape = arg.spec->type.shape;
      const size_t rank = shape.size();
      arg.descriptor.assign(3 + 2 * rank, 0);
      int64_t stride = 1;
      for (size_t d = rank; d-- > 0;) {
        arg.descriptor[3 + d] = shape[d];
        arg.descriptor[3 + rank + d] = stride;
        stride *= shape[d];
      }
      arg.setData(gEmptyTensor);
      if (arg.spec->role == LCTXRT_ARG_ROLE_WEIGHT)
        arg.setData(session.weightData.at(arg.spec->name));
      plan.argv.push_back(arg.descriptor.data());
    }
  }
}

/// Checks a caller's tensor view against the argument \p spec.
lctxrt_status_t checkView(const lctxrt_tensor_view_t &view, const ArgSpec &spec,
                          const std::string &where) {
  const auto invalid = [&](const std::string &message) {
    return makeStatus(LCTXRT_INVALID_ARGUMENT, where + message);
  };
  const lctxrt::TensorType &type = spec.type;
  if (view.dtype != type.dtype) {
    const char *name = lctxrt_dtype_name(view.dtype);
    return invalid(std::string("dtype ") +
                   (name ? name : std::to_string(view.dtype).c_str()) +
                   ", expected " + lctxrt_dtype_name(type.dtype));
  }
  if (view.rank != type.shape.size())
    return invalid("rank " + std::to_string(view.rank) + ", expected " +
                   std::to_string(type.shape.size()) + " (shape " +
                   lctxrt::shapeString(type.shape) + ")");
  if (view.rank > 0 && !view.shape)
    return invalid("NULL shape");
  std::vector<int64_t> shape(view.shape, view.shape + view.rank);
  if (shape != type.shape)
    return invalid("shape " + lctxrt::shapeString(shape) + ", expected " +
                   lctxrt::shapeString(type.shape));
  if (view.byte_size != type.byteSize)
    return invalid("byte_size " + std::to_string(view.byte_size) +
                   ", expected " + std::to_string(type.byteSize));
  if (!view.data && view.byte_size > 0)
    return invalid("NULL data");
  return nullptr;
}

/// Lists the names of the arguments of \p entry with \p role.
std::string argNames(const lctxrt::EntryPointSpec &entry,
                     lctxrt_arg_role_t role) {
  std::string names;
  for (const ArgSpec &arg : entry.args)
    if (arg.role == role)
      names += (names.empty() ? "'" : ", '") + arg.name + "'";
  return names.empty() ? "none" : names;
}

/// Matches caller views to arguments of \p role; \p bound is indexed by
/// argument.
template <typename View>
lctxrt_status_t matchViews(const lctxrt::EntryPointSpec &entry,
                           const std::string &where, lctxrt_arg_role_t role,
                           size_t count, View *views,
                           std::vector<View *> &bound) {
  const char *roleName = lctxrt_arg_role_name(role);
  const std::string list = std::string(roleName) + "s";
  if (count > 0 && !views)
    return makeStatus(LCTXRT_INVALID_ARGUMENT, where + "NULL " + list);
  for (size_t i = 0; i < count; ++i) {
    View &view = views[i];
    if (!view.name)
      return makeStatus(LCTXRT_INVALID_ARGUMENT, where + list + "[" +
                                                     std::to_string(i) +
                                                     "] has no name");
    auto it = entry.argIndex.find(view.name);
    if (it == entry.argIndex.end())
      return makeStatus(LCTXRT_INVALID_ARGUMENT,
                        where + "no " + roleName + " named '" + view.name +
                            "' (" + list + ": " + argNames(entry, role) + ")");
    const ArgSpec &spec = entry.args[it->second];
    const std::string argWhere = where + roleName + " '" + spec.name + "': ";
    if (spec.role != role)
      return makeStatus(
          LCTXRT_INVALID_ARGUMENT,
          where + "'" + spec.name + "' is " +
              (spec.role == LCTXRT_ARG_ROLE_WEIGHT
                   ? "a weight, bound from the weights file"
                   : std::string("an ") + lctxrt_arg_role_name(spec.role)) +
              ", not an " + roleName);
    if (bound[it->second])
      return makeStatus(LCTXRT_INVALID_ARGUMENT, argWhere + "given twice");
    // Outputs without data are runtime-allocated and described on return.
    if (role == LCTXRT_ARG_ROLE_INPUT || view.data)
      if (lctxrt_status_t status = checkView(view, spec, argWhere))
        return status;
    bound[it->second] = &view;
  }
  return nullptr;
}

lctxrt_status_t runImpl(lctxrt_session &session, const char *entryName,
                        size_t numInputs, const lctxrt_tensor_view_t *inputs,
                        size_t numOutputs, lctxrt_tensor_view_t *outputs) {
  const lctxrt_artifact_t &art = *session.artifact;
  auto found = art.manifest.entryIndex.find(entryName);
  if (found == art.manifest.entryIndex.end()) {
    std::string names;
    for (const lctxrt::EntryPointSpec &entry : art.manifest.entryPoints)
      names += (names.empty() ? "'" : ", '") + entry.name + "'";
    return makeStatus(LCTXRT_NOT_FOUND, art.path + ": no entry point named '" +
                                            entryName +
                                            "' (entry points: " + names + ")");
  }
  const lctxrt::EntryPointSpec &entry =
      art.manifest.entryPoints[found->second];
  const std::string where = art.path + ": entry '" + entry.name + "': ";
  const size_t numArgs = entry.args.size();

  std::vector<const lctxrt_tensor_view_t *> given(numArgs, nullptr);
  std::vector<lctxrt_tensor_view_t *> wanted(numArgs, nullptr);
  if (lctxrt_status_t status = matchViews(entry, where, LCTXRT_ARG_ROLE_INPUT,
                                          numInputs, inputs, given))
    return status;
  for (size_t a = 0; a < numArgs; ++a)
    if (entry.args[a].role == LCTXRT_ARG_ROLE_INPUT && !given[a])
      return makeStatus(LCTXRT_INVALID_ARGUMENT,
                        where + "missing input '" + entry.args[a].name + "' (" +
                            lctxrt::typeString(entry.args[a].type) + ")");
  if (lctxrt_status_t status = matchViews(entry, where, LCTXRT_ARG_ROLE_OUTPUT,
                                          numOutputs, outputs, wanted))
    return status;

  // Caller output buffers must not overlap any other caller buffer.
  for (size_t a = 0; a < numArgs; ++a) {
    if (!wanted[a] || !wanted[a]->data || wanted[a]->byte_size == 0)
      continue;
    const auto *begin = static_cast<const unsigned char *>(wanted[a]->data);
    const unsigned char *end = begin + wanted[a]->byte_size;
    for (size_t b = 0; b < numArgs; ++b) {
      const lctxrt_tensor_view_t *other = given[b] ? given[b] : wanted[b];
      if (b == a || !other || !other->data || other->byte_size == 0)
        continue;
      const auto *otherBegin = static_cast<const unsigned char *>(other->data);
      if (begin < otherBegin + other->byte_size && otherBegin < end)
        return makeStatus(LCTXRT_INVALID_ARGUMENT,
                          where + "output '" + entry.args[a].name +
                              "' overlaps the buffer of '" +
                              entry.args[b].name + "'");
    }
  }

  // A derived entry's caches hold a window of positions: refuse the call
  // that would write past it (the code indexes the caches by position).
  if (!entry.advanceState.empty()) {
    size_t index = art.manifest.stateIndex.at(entry.advanceState);
    const void *data = nullptr;
    if (session.cuda) {
      if (lctxrt_status_t status =
              lctxrt::cuda::readState(*session.cuda, index, data))
        return status;
    } else {
      data = session.states[index].value();
    }
    int64_t position = 0;
    std::memcpy(&position, data, sizeof(position));
    if (position < 0 || position > entry.advanceLimit - entry.advanceSteps)
      return makeStatus(
          LCTXRT_OUT_OF_RANGE,
          where + "state '" + entry.advanceState + "' is " +
              std::to_string(position) + " and the call advances it by " +
              std::to_string(entry.advanceSteps) + ", past the " +
              std::to_string(entry.advanceLimit) +
              " positions its caches hold; reset the state (or start a new "
              "window) first");
  }

  if (session.cuda) {
    lctxrt_status_t status =
        lctxrt::cuda::run(*session.cuda, found->second, given, wanted);
    if (!status)
      ++session.stats.runs;
    return status;
  }
  EntryPlan &plan = session.plans[found->second];

  // Bind data pointers; copy misaligned inputs. Allocation failures happen
  // here, before anything is written.
  std::vector<bool> copyBack(numArgs, false);
  size_t inputBytesCopied = 0;
  for (size_t a = 0; a < numArgs; ++a) {
    BoundArg &arg = plan.args[a];
    const lctxrt::TensorType &type = arg.spec->type;
    const size_t alignment = session.requiredAlignment(type.dtype);
    const void *data = nullptr;
    if (arg.spec->role == LCTXRT_ARG_ROLE_INPUT)
      data = given[a]->data;
    else if (arg.spec->role == LCTXRT_ARG_ROLE_OUTPUT && wanted[a])
      data = wanted[a]->data;
    else
      continue; // Weights are bound; unrequested outputs use scratch below.
    if (type.byteSize == 0) {
      arg.setData(gEmptyTensor);
    } else if (data && isAligned(data, alignment)) {
      arg.setData(data);
    } else {
      if (!arg.scratch.reserve(type.byteSize, session.allocationAlignment))
        return lctxrt::outOfMemoryStatus();
      if (arg.spec->role == LCTXRT_ARG_ROLE_INPUT) {
        std::memcpy(arg.scratch.data(), data, type.byteSize);
        inputBytesCopied += type.byteSize;
      } else {
        copyBack[a] = data != nullptr;
      }
      arg.setData(arg.scratch.data());
    }
  }
  for (size_t a = 0; a < numArgs; ++a) {
    BoundArg &arg = plan.args[a];
    if (arg.spec->role == LCTXRT_ARG_ROLE_OUTPUT && !wanted[a] &&
        arg.spec->type.byteSize > 0) {
      if (!arg.scratch.reserve(arg.spec->type.byteSize,
                               session.allocationAlignment))
        return lctxrt::outOfMemoryStatus();
      arg.setData(arg.scratch.data());
    }
  }

  // States: the current value in, the other buffer out; a state the code
  // updates in place, the current buffer for both.
  const lctxrt::Manifest &manifest = art.manifest;
  for (const auto &[name, pair] : entry.stateArgs) {
    const StateSlot &slot = session.states[manifest.stateIndex.at(name)];
    plan.args[pair.first].setData(slot.value());
    plan.args[pair.second].setData(
        entry.inPlaceStates.count(name) ? slot.value() : slot.next());
  }

  size_t failedBytes = 0;
  if (!lctxrt::callEntry(plan.function, plan.argv.data(), failedBytes))
    return lctxrt::makeStatus(
        LCTXRT_OUT_OF_MEMORY,
        std::string(art.path) + ": entry '" + entry.name +
            "': the compiled code could not allocate " +
            std::to_string(failedBytes) + " bytes (out of memory); " +
            (entry.inPlaceStates.empty()
                 ? "outputs and state are unchanged"
                 : "outputs are unchanged, the states it updates in place "
                   "may be partly written: reset the state"));

  for (const auto &[name, pair] : entry.stateArgs) {
    if (entry.inPlaceStates.count(name))
      continue;
    StateSlot &slot = session.states[manifest.stateIndex.at(name)];
    slot.current = 1 - slot.current;
  }

  for (size_t a = 0; a < numArgs; ++a) {
    lctxrt_tensor_view_t *view = wanted[a];
    if (!view)
      continue;
    BoundArg &arg = plan.args[a];
    if (copyBack[a]) {
      std::memcpy(const_cast<void *>(view->data), arg.scratch.data(),
                  arg.spec->type.byteSize);
      session.stats.output_bytes_copied += arg.spec->type.byteSize;
    } else if (!view->data) {
      view->dtype = arg.spec->type.dtype;
      view->rank = arg.spec->type.shape.size();
      view->shape = arg.spec->type.shape.data();
      view->byte_size = arg.spec->type.byteSize;
      view->data = reinterpret_cast<const void *>(
          static_cast<intptr_t>(arg.descriptor[1]));
    }
  }
  session.stats.input_bytes_copied += inputBytesCopied;
  ++session.stats.runs;
  return nullptr;
}

} // namespace

extern "C" {

lctxrt_status_t lctxrt_session_create(const lctxrt_artifact_t *artifact,
                                      const lctxrt_safetensors_t *weights,
                                      lctxrt_session_t **out) {
  return lctxrt_session_create_with_options(artifact, weights, nullptr, out);
}

lctxrt_status_t lctxrt_session_create_with_options(
    const lctxrt_artifact_t *artifact, const lctxrt_safetensors_t *weights,
    const lctxrt_session_options_t *options, lctxrt_session_t **out) {
  if (out)
    *out = nullptr;
  return lctxrt::guardStatus(__func__, [&]() -> lctxrt_status_t {
    const char *function = options ? "lctxrt_session_create_with_options"
                                   : "lctxrt_session_create";
    if (!artifact || !out)
      return makeStatus(LCTXRT_INVALID_ARGUMENT,
                        std::string(function) + ": NULL argument");
    const lctxrt_device_t device =
        options ? options->device : LCTXRT_DEVICE_CPU;
    if (device != LCTXRT_DEVICE_CPU && device != LCTXRT_DEVICE_CUDA)
      return makeStatus(LCTXRT_INVALID_ARGUMENT,
                        std::string(function) + ": unknown device " +
                            std::to_string(static_cast<int>(device)) +
                            " (LCTXRT_DEVICE_CPU or LCTXRT_DEVICE_CUDA)");
    auto session = std::make_unique<lctxrt_session>();
    session->artifact = artifact;
    session->weights = weights;
    session->device = device;
    session->bufferAlignment = artifact->manifest.bufferAlignment;
    session->allocationAlignment =
        std::max(kMinAllocationAlignment, session->bufferAlignment);
    if (device == LCTXRT_DEVICE_CUDA)
      if (lctxrt_status_t status = lctxrt::cuda::checkArtifact(*artifact))
        return status;
    if (lctxrt_status_t status = bindWeights(*session))
      return status;
    if (device == LCTXRT_DEVICE_CUDA) {
      if (lctxrt_status_t status = lctxrt::cuda::createSession(
              *artifact, session->weightData, options->device_index,
              session->cuda))
        return status;
      session->stats.weights_zero_copy = 0;
      session->stats.weights_copied = artifact->manifest.weights.size();
      session->stats.weight_bytes_copied = 0;
      for (const ArgSpec &weight : artifact->manifest.weights)
        session->stats.weight_bytes_copied += weight.type.byteSize;
      *out = session.release();
      return nullptr;
    }
    if (lctxrt_status_t status = allocateStates(*session))
      return status;
    buildPlans(*session);
    *out = session.release();
    return nullptr;
  });
}

void lctxrt_session_close(lctxrt_session_t *session) { delete session; }

lctxrt_status_t lctxrt_session_run(lctxrt_session_t *session, const char *entry,
                                   size_t num_inputs,
                                   const lctxrt_tensor_view_t *inputs,
                                   size_t num_outputs,
                                   lctxrt_tensor_view_t *outputs) {
  return lctxrt::guardStatus(__func__, [&]() -> lctxrt_status_t {
    if (!session || !entry)
      return makeStatus(LCTXRT_INVALID_ARGUMENT,
                        "lctxrt_session_run: NULL argument");
    return runImpl(*session, entry, num_inputs, inputs, num_outputs, outputs);
  });
}

lctxrt_device_t lctxrt_session_device(const lctxrt_session_t *session) {
  return session ? session->device : LCTXRT_DEVICE_CPU;
}

const char *lctxrt_device_name(lctxrt_device_t device) {
  switch (device) {
  case LCTXRT_DEVICE_CPU:
    return "cpu";
  case LCTXRT_DEVICE_CUDA:
    return "cuda";
  default:
    return nullptr;
  }
}

lctxrt_status_t lctxrt_device_from_name(const char *name,
                                        lctxrt_device_t *out) {
  if (out)
    *out = LCTXRT_DEVICE_CPU;
  if (!name || !out)
    return makeStatus(LCTXRT_INVALID_ARGUMENT,
                      "lctxrt_device_from_name: NULL argument");
  if (std::strcmp(name, "cpu") == 0)
    return nullptr;
  if (std::strcmp(name, "cuda") == 0) {
    *out = LCTXRT_DEVICE_CUDA;
    return nullptr;
  }
  return makeStatus(LCTXRT_INVALID_ARGUMENT, std::string("unknown device '") +
                                                 name +
                                                 "' (devices: cpu, cuda)");
}

lctxrt_status_t lctxrt_session_reset_state(lctxrt_session_t *session) {
  if (!session)
    return makeStatus(LCTXRT_INVALID_ARGUMENT,
                      "lctxrt_session_reset_state: NULL argument");
  if (session->cuda)
    return lctxrt::guardStatus(__func__, [&] {
      return lctxrt::cuda::resetState(*session->cuda);
    });
  for (StateSlot &slot : session->states)
    if (slot.spec->type.byteSize)
      std::memset(slot.value(), 0, slot.spec->type.byteSize);
  return nullptr;
}

namespace {
/// The state named \p name of \p session, or a NOT_FOUND status.
lctxrt_status_t findState(const lctxrt_session &session, const char *name,
                          const char *function, size_t &index) {
  const lctxrt::Manifest &manifest = session.artifact->manifest;
  auto it = manifest.stateIndex.find(name);
  if (it != manifest.stateIndex.end()) {
    index = it->second;
    return nullptr;
  }
  std::string names;
  for (const ArgSpec &state : manifest.states)
    names += (names.empty() ? "'" : ", '") + state.name + "'";
  return makeStatus(LCTXRT_NOT_FOUND,
                    session.artifact->path + ": " + function +
                        ": no state named '" + name + "' (states: " +
                        (names.empty() ? "none" : names) + ")");
}
} // namespace

lctxrt_status_t lctxrt_session_read_state(const lctxrt_session_t *session,
                                          const char *name,
                                          lctxrt_tensor_view_t *out) {
  if (out)
    std::memset(out, 0, sizeof(*out));
  return lctxrt::guardStatus(__func__, [&]() -> lctxrt_status_t {
    if (!session || !name || !out)
      return makeStatus(LCTXRT_INVALID_ARGUMENT,
                        "lctxrt_session_read_state: NULL argument");
    size_t index = 0;
    if (lctxrt_status_t status =
            findState(*session, name, "lctxrt_session_read_state", index))
      return status;
    if (session->cuda) {
      const ArgSpec &spec = session->artifact->manifest.states[index];
      const void *data = nullptr;
      if (lctxrt_status_t status =
              lctxrt::cuda::readState(*session->cuda, index, data))
        return status;
      out->name = spec.name.c_str();
      out->dtype = spec.type.dtype;
      out->rank = spec.type.shape.size();
      out->shape = spec.type.shape.data();
      out->byte_size = spec.type.byteSize;
      out->data = data;
      return nullptr;
    }
    const StateSlot &slot = session->states[index];
    out->name = slot.spec->name.c_str();
    out->dtype = slot.spec->type.dtype;
    out->rank = slot.spec->type.shape.size();
    out->shape = slot.spec->type.shape.data();
    out->byte_size = slot.spec->type.byteSize;
    out->data = slot.value();
    return nullptr;
  });
}

lctxrt_status_t lctxrt_session_write_state(lctxrt_session_t *session,
                                           const lctxrt_tensor_view_t *value) {
  return lctxrt::guardStatus(__func__, [&]() -> lctxrt_status_t {
    if (!session || !value || !value->name)
      return makeStatus(LCTXRT_INVALID_ARGUMENT,
                        "lctxrt_session_write_state: NULL argument");
    size_t index = 0;
    if (lctxrt_status_t status =
            findState(*session, value->name, "lctxrt_session_write_state",
                      index))
      return status;
    if (session->cuda) {
      const ArgSpec &spec = session->artifact->manifest.states[index];
      if (lctxrt_status_t status = checkView(
              *value, spec,
              session->artifact->path + ": state '" + spec.name + "': "))
        return status;
      return lctxrt::cuda::writeState(*session->cuda, index, value->data);
    }
    StateSlot &slot = session->states[index];
    if (lctxrt_status_t status =
            checkView(*value, *slot.spec,
                      session->artifact->path + ": state '" +
                          slot.spec->name + "': "))
      return status;
    if (slot.spec->type.byteSize)
      std::memmove(slot.value(), value->data, slot.spec->type.byteSize);
    return nullptr;
  });
}

lctxrt_status_t lctxrt_session_stats(const lctxrt_session_t *session,
                                     lctxrt_session_stats_t *out_stats) {
  if (out_stats)
    std::memset(out_stats, 0, sizeof(*out_stats));
  if (!session || !out_stats)
    return makeStatus(LCTXRT_INVALID_ARGUMENT,
                      "lctxrt_session_stats: NULL argument");
  *out_stats = session->stats;
  out_stats->last_device_ms =
      session->cuda ? lctxrt::cuda::lastDeviceMs(*session->cuda) : -1;
  return nullptr;
}

} // extern "C"
