//===- artifact.cc - Validating artifact reader -----------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Opens `.lctx` artifacts (docs/artifact.md): maps the file, validates the
/// container (header, section table, checksum), parses the manifest, checks
/// that every entry point refers to a code section, and loads each such
/// `cpu.so` section from a memfd with dlopen, resolving every entry symbol.
/// Nothing of the file stays mapped after open.
///
//===----------------------------------------------------------------------===//

#include "artifact.h"

#include "lctxrt/artifact_format.h"
#include "cuda_session.h"
#include "kernel_alloc.h"
#include "status.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <utility>

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using lctxrt::makeStatus;
using lctxrt::SectionRecord;

namespace {

constexpr uint32_t kManifestKind =
    static_cast<uint32_t>(lctxrt::ArtifactSectionKind::Manifest);
constexpr uint32_t kCpuSoKind =
    static_cast<uint32_t>(lctxrt::ArtifactSectionKind::CpuSo);

#if defined(__x86_64__)
constexpr uint16_t kHostElfMachine = 62; // EM_X86_64
#elif defined(__aarch64__)
constexpr uint16_t kHostElfMachine = 183; // EM_AARCH64
#else
constexpr uint16_t kHostElfMachine = 0;
#endif

std::string errnoMessage(int error) {
  return std::error_code(error, std::generic_category()).message();
}

/// Closes a file descriptor on scope exit.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0)
      ::close(fd);
  }
};

/// Closes file descriptors on scope exit.
struct FdListCloser {
  std::vector<int> fds;
  ~FdListCloser() {
    for (int fd : fds)
      ::close(fd);
  }
};

/// Unlinks a file (if the path is not empty) on scope exit.
struct Unlinker {
  std::string path;
  ~Unlinker() {
    if (!path.empty())
      ::unlink(path.c_str());
  }
};

/// How many stale /proc/self/fd names loading one section may skip.
constexpr size_t kMaxSkippedNames = 64;

/// Unmaps a mapping on scope exit.
struct Unmapper {
  void *data;
  size_t size;
  ~Unmapper() { ::munmap(data, size); }
};

int writeAll(int fd, const unsigned char *data, size_t size) {
  while (size > 0) {
    ssize_t written = ::write(fd, data, size);
    if (written < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    data += written;
    size -= static_cast<size_t>(written);
  }
  return 0;
}

std::string sectionWhere(size_t index, const std::string &name) {
  return "section #" + std::to_string(index) + " ('" + name + "')";
}

/// Opens, validates and loads one artifact.
class Loader {
public:
  explicit Loader(lctxrt_artifact &artifact)
      : art(artifact), path(artifact.path) {}
  lctxrt_status_t load();

private:
  lctxrt_status_t error(lctxrt_status_code_t code,
                        const std::string &message) const {
    return makeStatus(code, path + ": " + message);
  }
  lctxrt_status_t formatError(const std::string &message) const {
    return error(LCTXRT_FORMAT_ERROR, message);
  }
  lctxrt_status_t validateContainer(const unsigned char *bytes, uint64_t size);
  lctxrt_status_t validateSections(const unsigned char *bytes, uint64_t size,
                                   uint32_t count);
  lctxrt_status_t bindEntryPoints(const unsigned char *bytes);
  lctxrt_status_t loadCode(const SectionRecord &section,
                           const unsigned char *payload,
                           lctxrt::LoadedCode &code);
  void buildInfos();

  lctxrt_artifact &art;
  const std::string &path;
};

lctxrt_status_t Loader::load() {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int errorNumber = errno;
    return error(errorNumber == ENOENT ? LCTXRT_NOT_FOUND : LCTXRT_IO_ERROR,
                 "cannot open: " + errnoMessage(errorNumber));
  }
  FdCloser closer{fd};
  struct stat info;
  if (::fstat(fd, &info) != 0)
    return error(LCTXRT_IO_ERROR, "cannot stat: " + errnoMessage(errno));
  if (!S_ISREG(info.st_mode))
    return error(LCTXRT_IO_ERROR, "not a regular file");
  const auto size = static_cast<uint64_t>(info.st_size);
  const uint64_t minimum =
      lctxrt::kArtifactHeaderSize + lctxrt::kArtifactChecksumSize;
  if (size < minimum)
    return formatError("file is " + std::to_string(size) +
                       " bytes, shorter than the " + std::to_string(minimum) +
                       "-byte minimum (header and checksum; truncated?)");
  if (size > SIZE_MAX)
    return error(LCTXRT_UNSUPPORTED, "file is too large to map");
  void *mapping =
      ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_PRIVATE, fd, 0);
  if (mapping == MAP_FAILED) {
    int errorNumber = errno;
    return error(errorNumber == ENOMEM ? LCTXRT_OUT_OF_MEMORY : LCTXRT_IO_ERROR,
                 "cannot mmap: " + errnoMessage(errorNumber));
  }
  Unmapper unmapper{mapping, static_cast<size_t>(size)};
  const auto *bytes = static_cast<const unsigned char *>(mapping);
  if (lctxrt_status_t status = validateContainer(bytes, size))
    return status;

  const SectionRecord *manifest = nullptr;
  for (const SectionRecord &section : art.sections)
    if (section.kind == kManifestKind)
      manifest = &section;
  art.manifestJson.assign(reinterpret_cast<const char *>(bytes) +
                              manifest->offset,
                          static_cast<size_t>(manifest->size));
  if (lctxrt_status_t status =
          lctxrt::parseManifest(path, art.manifestJson, art.manifest))
    return status;
  if (lctxrt_status_t status = bindEntryPoints(bytes))
    return status;
  // Keep the GPU kernels the manifest names for cuda sessions (checked
  // when one is created; the CPU never needs them).
  for (const SectionRecord &section : art.sections)
    if (art.manifest.gpu.present && section.name == art.manifest.gpu.section &&
        section.kind != kManifestKind && section.kind != kCpuSoKind)
      art.gpuImage.assign(reinterpret_cast<const char *>(bytes) +
                              section.offset,
                          static_cast<size_t>(section.size));
  buildInfos();
  return nullptr;
}

lctxrt_status_t Loader::validateContainer(const unsigned char *bytes,
                                          uint64_t size) {
  const lctxrt::ArtifactHeader header = lctxrt::decodeArtifactHeader(bytes);
  if (std::memcmp(header.magic, lctxrt::kArtifactMagic, 8) != 0) {
    static const char kHex[] = "0123456789abcdef";
    std::string found;
    for (int i = 0; i < 8; ++i) {
      auto byte = static_cast<unsigned char>(header.magic[i]);
      found += std::string(i ? " " : "") + kHex[byte >> 4] + kHex[byte & 15];
    }
    return formatError("bad magic (bytes 0-7 are " + found +
                       ", expected \"LCTXART\\0\"); not an lctx artifact");
  }
  if (header.version != lctxrt::kArtifactVersion)
    return error(header.version == 0 ? LCTXRT_FORMAT_ERROR : LCTXRT_UNSUPPORTED,
                 "version " + std::to_string(header.version) +
                     " is not supported (this runtime reads version " +
                     std::to_string(lctxrt::kArtifactVersion) + ")");
  if (header.sectionCount < lctxrt::kArtifactMinSections ||
      header.sectionCount > lctxrt::kArtifactMaxSections)
    return formatError("section_count " + std::to_string(header.sectionCount) +
                       " is outside 1..64");
  if (header.fileSize != size)
    return formatError("file_size field is " + std::to_string(header.fileSize) +
                       " but the file has " + std::to_string(size) +
                       " bytes (truncated or padded?)");
  const uint64_t tableEnd = lctxrt::artifactTableEnd(header.sectionCount);
  if (tableEnd > size - lctxrt::kArtifactChecksumSize)
    return formatError("section table of " +
                       std::to_string(header.sectionCount) +
                       " entries ends at byte " + std::to_string(tableEnd) +
                       ", beyond the checksum at byte " +
                       std::to_string(size - lctxrt::kArtifactChecksumSize));
  const size_t checksumAt =
      static_cast<size_t>(size) - lctxrt::kArtifactChecksumSize;
  const uint64_t stored = lctxrt::loadLE64(bytes + checksumAt);
  const uint64_t computed = lctxrt::fnv1a64(bytes, checksumAt);
  if (stored != computed) {
    char message[128];
    std::snprintf(message, sizeof(message),
                  "checksum mismatch: stored 0x%016llx, computed 0x%016llx "
                  "(corrupted file)",
                  static_cast<unsigned long long>(stored),
                  static_cast<unsigned long long>(computed));
    return formatError(message);
  }
  return validateSections(bytes, size, header.sectionCount);
}

lctxrt_status_t Loader::validateSections(const unsigned char *bytes,
                                         uint64_t size, uint32_t count) {
  const uint64_t payloadBegin = lctxrt::artifactTableEnd(count);
  const uint64_t payloadEnd = size - lctxrt::kArtifactChecksumSize;
  std::vector<size_t> manifests;
  for (uint32_t i = 0; i < count; ++i) {
    const lctxrt::ArtifactSectionEntry entry =
        lctxrt::decodeArtifactSectionEntry(bytes + lctxrt::artifactTableEnd(i));
    SectionRecord record{entry.kind, entry.nameString(), entry.offset,
                         entry.size};
    const std::string where = sectionWhere(i, record.name);
    if (!lctxrt::artifactSectionKindName(entry.kind))
      return formatError(where + ": unknown kind " +
                         std::to_string(entry.kind));
    if (entry.flags != 0)
      return formatError(where + ": flags " + std::to_string(entry.flags) +
                         " are not 0");
    if (record.name.empty())
      return formatError(where + ": empty name");
    if (!entry.nameIsNulPadded())
      return formatError(where + ": name is not NUL-padded (bytes after "
                                 "the first NUL)");
    for (const SectionRecord &other : art.sections)
      if (other.name == record.name)
        return formatError(where + ": duplicate section name");
    if (entry.offset % lctxrt::kArtifactSectionAlignment != 0)
      return formatError(where + ": offset " + std::to_string(entry.offset) +
                         " is not a multiple of 64");
    if (entry.offset < payloadBegin || entry.offset > payloadEnd ||
        entry.size > payloadEnd - entry.offset)
      return formatError(where + ": offset " + std::to_string(entry.offset) +
                         " size " + std::to_string(entry.size) +
                         " is outside the payload area [" +
                         std::to_string(payloadBegin) + ", " +
                         std::to_string(payloadEnd) + ")");
    if (entry.kind == kManifestKind)
      manifests.push_back(i);
    art.sections.push_back(std::move(record));
  }

  // Non-empty sections must not overlap: compare neighbours by offset.
  std::vector<size_t> order;
  for (size_t i = 0; i < art.sections.size(); ++i)
    if (art.sections[i].size > 0)
      order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return art.sections[a].offset < art.sections[b].offset;
  });
  for (size_t i = 1; i < order.size(); ++i) {
    const SectionRecord &previous = art.sections[order[i - 1]];
    const SectionRecord &current = art.sections[order[i]];
    if (current.offset < previous.offset + previous.size)
      return formatError(sectionWhere(order[i - 1], previous.name) + " [" +
                         std::to_string(previous.offset) + ", " +
                         std::to_string(previous.offset + previous.size) +
                         ") and " + sectionWhere(order[i], current.name) +
                         " [" + std::to_string(current.offset) + ", " +
                         std::to_string(current.offset + current.size) +
                         ") overlap");
  }
  if (manifests.empty())
    return formatError("no manifest section (kind 1)");
  if (manifests.size() > 1)
    return formatError("duplicate manifest: sections #" +
                       std::to_string(manifests[0]) + " and #" +
                       std::to_string(manifests[1]) + " are both of kind 1");
  return nullptr;
}

lctxrt_status_t Loader::bindEntryPoints(const unsigned char *bytes) {
  for (const lctxrt::EntryPointSpec &entry : art.manifest.entryPoints) {
    const std::string where = "entry '" + entry.name + "': ";
    size_t sectionIndex = art.sections.size();
    for (size_t i = 0; i < art.sections.size(); ++i)
      if (art.sections[i].name == entry.section)
        sectionIndex = i;
    if (sectionIndex == art.sections.size())
      return formatError(where + "section '" + entry.section +
                         "' does not exist");
    const SectionRecord &section = art.sections[sectionIndex];
    if (section.kind != kCpuSoKind) {
      std::string kindName = lctxrt::artifactSectionKindName(section.kind);
      if (section.kind == kManifestKind)
        return formatError(where + "section '" + entry.section +
                           "' is the manifest, not code");
      return error(LCTXRT_UNSUPPORTED,
                   where + "section '" + entry.section + "' is of kind " +
                       kindName + "; this runtime runs only cpu.so code");
    }
    lctxrt::LoadedCode *code = nullptr;
    for (const auto &loaded : art.code)
      if (loaded->section == section.name)
        code = loaded.get();
    if (!code) {
      auto loaded = std::make_unique<lctxrt::LoadedCode>();
      if (lctxrt_status_t status =
              loadCode(section, bytes + section.offset, *loaded))
        return status;
      code = loaded.get();
      art.code.push_back(std::move(loaded));
    }
    ::dlerror();
    void *symbol = ::dlsym(code->handle, entry.symbol.c_str());
    if (!symbol)
      return formatError(where + "symbol '" + entry.symbol +
                         "' not found in section '" + section.name + "'");
    art.entryFunctions.push_back(
        reinterpret_cast<lctxrt::EntryFunction>(symbol));
  }
  return nullptr;
}

lctxrt_status_t Loader::loadCode(const SectionRecord &section,
                                 const unsigned char *payload,
                                 lctxrt::LoadedCode &code) {
  const std::string where = "section '" + section.name + "': ";
  code.section = section.name;
  // ELF identification: magic, class, data, then e_type and e_machine.
  static const unsigned char kElfMagic[4] = {0x7f, 'E', 'L', 'F'};
  if (section.size < 64 || std::memcmp(payload, kElfMagic, 4) != 0)
    return formatError(where + "not an ELF file");
  if (payload[4] != 2 || payload[5] != 1)
    return error(LCTXRT_UNSUPPORTED,
                 where + "not a 64-bit little-endian ELF object");
  const uint16_t type = static_cast<uint16_t>(payload[16] | payload[17] << 8);
  const uint16_t machine =
      static_cast<uint16_t>(payload[18] | payload[19] << 8);
  if (type != 3) // ET_DYN
    return formatError(where + "ELF type " + std::to_string(type) +
                       " is not a shared object (3)");
  if (machine != kHostElfMachine)
    return error(LCTXRT_UNSUPPORTED,
                 where + "ELF machine " + std::to_string(machine) +
                     " does not run on this host (machine " +
                     std::to_string(kHostElfMachine) + ")");

  code.gpuSlots = lctxrt::cuda::listGpuSlots(
      payload, static_cast<size_t>(section.size));

  // Prefer a memfd opened through /proc/self/fd; fall back to a temporary
  // file (unlinked once loaded) where memfds or /proc are unavailable.
  std::string soPath;
  std::string label = "lctx:" + section.name;
  int fd = ::memfd_create(label.c_str(), MFD_CLOEXEC);
  const bool useMemfd =
      fd >= 0 &&
      ::access(("/proc/self/fd/" + std::to_string(fd)).c_str(), R_OK) == 0;
  if (fd >= 0 && !useMemfd)
    ::close(fd);
  if (useMemfd) {
    soPath = "/proc/self/fd/" + std::to_string(fd);
  } else {
    const char *tmp = std::getenv("TMPDIR");
    soPath = std::string(tmp && *tmp ? tmp : "/tmp") + "/lctx-cpu-XXXXXX.so";
    fd = ::mkstemps(&soPath[0], 3);
    if (fd < 0)
      return error(LCTXRT_IO_ERROR, where + "cannot create " + soPath + ": " +
                                        errnoMessage(errno));
  }
  FdCloser closer{fd};
  Unlinker unlinker{useMemfd ? std::string() : soPath};
  if (int errorNumber =
          writeAll(fd, payload, static_cast<size_t>(section.size)))
    return error(LCTXRT_IO_ERROR,
                 where + "cannot write the code: " + errnoMessage(errorNumber));

  // glibc finds already-loaded objects by name first. A name from an
  // earlier memfd can still be loaded (dlclose need not unload), so move to
  // a higher descriptor number until the name is unused.
  FdListCloser skipped;
  while (useMemfd) {
    void *stale = ::dlopen(soPath.c_str(), RTLD_LAZY | RTLD_NOLOAD);
    if (!stale)
      break;
    ::dlclose(stale);
    int next = skipped.fds.size() < kMaxSkippedNames
                   ? ::fcntl(closer.fd, F_DUPFD_CLOEXEC, closer.fd + 1)
                   : -1;
    if (next < 0)
      return error(LCTXRT_IO_ERROR,
                   where + "no unused /proc/self/fd name to load the code "
                           "under");
    skipped.fds.push_back(std::exchange(closer.fd, next));
    soPath = "/proc/self/fd/" + std::to_string(next);
  }
  ::dlerror();
  code.handle = ::dlopen(soPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!code.handle) {
    const char *dlError = ::dlerror();
    return formatError(where + "cannot load the code: " +
                       (dlError ? dlError : "dlopen failed"));
  }
  if (useMemfd)
    code.fd = std::exchange(closer.fd, -1);
  // Compiled code allocates through the runtime (kernel_alloc.h).
  if (void *hook = ::dlsym(code.handle, "lctx_rt_alloc_hook"))
    *static_cast<void *(**)(size_t, size_t)>(hook) = &lctxrt::kernelAlloc;
  if (void *hook = ::dlsym(code.handle, "lctx_rt_free_hook"))
    *static_cast<void (**)(void *)>(hook) = &lctxrt::kernelFree;
  // The OpenMP runtime the code runs its parallel loops on (a dependency
  // of the code, so found through its handle).
  lctxrt::setInParallelQuery(reinterpret_cast<int (*)()>(
      ::dlsym(code.handle, "omp_in_parallel")));
  ::dlerror();
  return nullptr;
}

void Loader::buildInfos() {
  const auto toInfo = [](const lctxrt::ArgSpec &arg) {
    lctxrt_arg_info_t info;
    std::memset(&info, 0, sizeof(info));
    info.name = arg.name.c_str();
    info.role = arg.role;
    info.dtype = arg.type.dtype;
    info.rank = arg.type.shape.size();
    std::copy(arg.type.shape.begin(), arg.type.shape.end(), info.shape);
    info.num_elements = arg.type.numElements;
    info.byte_size = arg.type.byteSize;
    return info;
  };
  for (const lctxrt::EntryPointSpec &entry : art.manifest.entryPoints) {
    art.argInfos.emplace_back();
    for (const lctxrt::ArgSpec &arg : entry.args)
      art.argInfos.back().push_back(toInfo(arg));
  }
  for (const lctxrt::ArgSpec &weight : art.manifest.weights)
    art.weightInfos.push_back(toInfo(weight));
  for (const lctxrt::ArgSpec &state : art.manifest.states)
    art.stateInfos.push_back(toInfo(state));
}

} // namespace

lctxrt::LoadedCode::~LoadedCode() {
  if (handle)
    ::dlclose(handle);
  if (fd < 0)
    return;
  // dlclose need not unload the code (an object marked NODELETE, or one a
  // loaded library depends on stays). Its name is the descriptor's
  // /proc/self/fd path, and glibc finds loaded objects by name: closing the
  // descriptor would let a later memfd reuse the number, and the name, of
  // an object still loaded. Keep such a descriptor open for the life of the
  // process instead, so every name stays unique.
  std::string name = "/proc/self/fd/" + std::to_string(fd);
  if (void *still = ::dlopen(name.c_str(), RTLD_LAZY | RTLD_NOLOAD)) {
    ::dlclose(still);
    return;
  }
  ::close(fd);
}

lctxrt_status_t lctxrt::openArtifact(const char *path,
                                     lctxrt_artifact_t **out) {
  auto artifact = std::make_unique<lctxrt_artifact>();
  artifact->path = path;
  if (lctxrt_status_t status = Loader(*artifact).load())
    return status;
  *out = artifact.release();
  return nullptr;
}
