//===- lctxrt/artifact_format.h - lctx artifact byte layout -----*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The single definition of the byte layout of `.lctx` artifacts (see
/// docs/artifact.md), shared by the compiler, which writes them, and lctxrt,
/// which reads them. Header-only C++17 with no dependencies beyond the
/// standard library; no exceptions are thrown or caught (only allocation
/// failure can throw), so it compiles with -fno-exceptions and -fno-rtti.
///
/// Layout, all integers little-endian:
///   [0, 24)            header: magic, u32 version, u32 section_count,
///                      u64 file_size
///   [24, 24 + 40 * n)  section table: u32 kind, u32 flags (0), u64 offset,
///                      u64 size, char name[16] (NUL-padded)
///   ...                payloads, each at a multiple of 64
///   [size - 8, size)   u64 FNV-1a 64 checksum of bytes [0, size - 8)
///
//===----------------------------------------------------------------------===//

#ifndef LCTXRT_ARTIFACT_FORMAT_H
#define LCTXRT_ARTIFACT_FORMAT_H

#include <sys/stat.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace lctxrt {

/// The 8 magic bytes at offset 0 ("LCTXART" plus NUL).
inline constexpr char kArtifactMagic[8] = {'L', 'C', 'T', 'X',
                                           'A', 'R', 'T', '\0'};
/// The format version this header describes.
inline constexpr uint32_t kArtifactVersion = 1;
/// Byte size of the fixed header.
inline constexpr size_t kArtifactHeaderSize = 24;
/// Byte size of one section table entry.
inline constexpr size_t kArtifactSectionEntrySize = 40;
/// Byte size of the name field of a section table entry.
inline constexpr size_t kArtifactSectionNameSize = 16;
/// Byte size of the trailing checksum.
inline constexpr size_t kArtifactChecksumSize = 8;
/// Every section payload starts at a multiple of this.
inline constexpr uint64_t kArtifactSectionAlignment = 64;
/// Bounds of section_count.
inline constexpr uint32_t kArtifactMinSections = 1;
inline constexpr uint32_t kArtifactMaxSections = 64;

/// Section kinds (the u32 `kind` field).
enum class ArtifactSectionKind : uint32_t {
  /// UTF-8 JSON manifest; exactly one per artifact.
  Manifest = 1,
  /// x86-64 ELF shared object holding the CPU entry points.
  CpuSo = 2,
  /// Reserved for the CUDA backend: PTX text.
  Ptx = 3,
  /// Reserved for the CUDA backend: cubin.
  Cubin = 4,
};

/// Returns the documented name of section kind \p kind ("manifest",
/// "cpu.so", "ptx", "cubin"), or nullptr for an unknown kind.
inline const char *artifactSectionKindName(uint32_t kind) {
  switch (static_cast<ArtifactSectionKind>(kind)) {
  case ArtifactSectionKind::Manifest:
    return "manifest";
  case ArtifactSectionKind::CpuSo:
    return "cpu.so";
  case ArtifactSectionKind::Ptx:
    return "ptx";
  case ArtifactSectionKind::Cubin:
    return "cubin";
  }
  return nullptr;
}

//===----------------------------------------------------------------------===//
// Little-endian helpers and checksum
//===----------------------------------------------------------------------===//

/// Stores \p value as 4 little-endian bytes at \p out.
inline void storeLE32(unsigned char *out, uint32_t value) {
  for (int i = 0; i < 4; ++i)
    out[i] = static_cast<unsigned char>(value >> (8 * i));
}

/// Stores \p value as 8 little-endian bytes at \p out.
inline void storeLE64(unsigned char *out, uint64_t value) {
  for (int i = 0; i < 8; ++i)
    out[i] = static_cast<unsigned char>(value >> (8 * i));
}

/// Loads 4 little-endian bytes at \p in.
inline uint32_t loadLE32(const unsigned char *in) {
  uint32_t value = 0;
  for (int i = 3; i >= 0; --i)
    value = (value << 8) | in[i];
  return value;
}

/// Loads 8 little-endian bytes at \p in.
inline uint64_t loadLE64(const unsigned char *in) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i)
    value = (value << 8) | in[i];
  return value;
}

/// The FNV-1a 64 offset basis, the default seed of fnv1a64().
inline constexpr uint64_t kFnv1a64OffsetBasis = 0xcbf29ce484222325ULL;
/// The FNV-1a 64 prime.
inline constexpr uint64_t kFnv1a64Prime = 0x100000001b3ULL;

/// Returns the FNV-1a 64 hash of \p size bytes at \p data, continuing from
/// \p seed (pass a previous result to hash data in pieces).
inline uint64_t fnv1a64(const void *data, size_t size,
                        uint64_t seed = kFnv1a64OffsetBasis) {
  const auto *bytes = static_cast<const unsigned char *>(data);
  uint64_t hash = seed;
  for (size_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= kFnv1a64Prime;
  }
  return hash;
}

//===----------------------------------------------------------------------===//
// Header and section table entries
//===----------------------------------------------------------------------===//

/// The decoded fixed header.
struct ArtifactHeader {
  char magic[8] = {};
  uint32_t version = 0;
  uint32_t sectionCount = 0;
  uint64_t fileSize = 0;
};

/// Encodes \p header into kArtifactHeaderSize bytes at \p out.
inline void encodeArtifactHeader(const ArtifactHeader &header,
                                 unsigned char *out) {
  std::memcpy(out, header.magic, 8);
  storeLE32(out + 8, header.version);
  storeLE32(out + 12, header.sectionCount);
  storeLE64(out + 16, header.fileSize);
}

/// Decodes kArtifactHeaderSize bytes at \p in.
inline ArtifactHeader decodeArtifactHeader(const unsigned char *in) {
  ArtifactHeader header;
  std::memcpy(header.magic, in, 8);
  header.version = loadLE32(in + 8);
  header.sectionCount = loadLE32(in + 12);
  header.fileSize = loadLE64(in + 16);
  return header;
}

/// A decoded section table entry.
struct ArtifactSectionEntry {
  uint32_t kind = 0;
  uint32_t flags = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  /// The raw name field; NUL-padded, not necessarily NUL-terminated.
  char name[kArtifactSectionNameSize] = {};

  /// Returns the name: the bytes of `name` before the first NUL.
  std::string nameString() const {
    size_t length = 0;
    while (length < kArtifactSectionNameSize && name[length] != '\0')
      ++length;
    return std::string(name, length);
  }
  /// Returns true if every byte after the first NUL of `name` is NUL.
  bool nameIsNulPadded() const {
    size_t i = 0;
    while (i < kArtifactSectionNameSize && name[i] != '\0')
      ++i;
    for (; i < kArtifactSectionNameSize; ++i)
      if (name[i] != '\0')
        return false;
    return true;
  }
};

/// Encodes \p entry into kArtifactSectionEntrySize bytes at \p out.
inline void encodeArtifactSectionEntry(const ArtifactSectionEntry &entry,
                                       unsigned char *out) {
  storeLE32(out, entry.kind);
  storeLE32(out + 4, entry.flags);
  storeLE64(out + 8, entry.offset);
  storeLE64(out + 16, entry.size);
  std::memcpy(out + 24, entry.name, kArtifactSectionNameSize);
}

/// Decodes kArtifactSectionEntrySize bytes at \p in.
inline ArtifactSectionEntry
decodeArtifactSectionEntry(const unsigned char *in) {
  ArtifactSectionEntry entry;
  entry.kind = loadLE32(in);
  entry.flags = loadLE32(in + 4);
  entry.offset = loadLE64(in + 8);
  entry.size = loadLE64(in + 16);
  std::memcpy(entry.name, in + 24, kArtifactSectionNameSize);
  return entry;
}

/// Returns the offset of the first byte after a section table of
/// \p sectionCount entries.
inline constexpr uint64_t artifactTableEnd(uint64_t sectionCount) {
  return kArtifactHeaderSize + kArtifactSectionEntrySize * sectionCount;
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

/// A section to be written.
struct ArtifactSection {
  /// An ArtifactSectionKind value.
  uint32_t kind = 0;
  /// 1 to 16 bytes, no NUL, unique within the artifact. Manifest entry
  /// points name their code section by this name (conventionally "cpu.so").
  std::string name;
  std::string payload;
};

/// Lays out \p sections (in the given order, each payload at the next
/// multiple of 64, zero padding, checksum last) into \p out. Returns false
/// with a message in \p error (if non-null) when the sections violate the
/// format: no or more than 64 sections, not exactly one manifest, an
/// unknown kind, or a name that is empty, longer than 16 bytes, contains a
/// NUL or repeats another.
inline bool serializeArtifact(const std::vector<ArtifactSection> &sections,
                              std::string &out, std::string *error) {
  const auto fail = [&](const std::string &message) {
    if (error)
      *error = message;
    return false;
  };
  if (sections.size() < kArtifactMinSections ||
      sections.size() > kArtifactMaxSections)
    return fail("an artifact needs 1 to 64 sections, got " +
                std::to_string(sections.size()));
  size_t manifests = 0;
  for (size_t i = 0; i < sections.size(); ++i) {
    const ArtifactSection &section = sections[i];
    const std::string where = "section #" + std::to_string(i) + " ('" +
                              section.name.substr(0, 64) + "')";
    if (!artifactSectionKindName(section.kind))
      return fail(where + ": unknown kind " + std::to_string(section.kind));
    if (section.name.empty() ||
        section.name.size() > kArtifactSectionNameSize ||
        section.name.find('\0') != std::string::npos)
      return fail(where + ": a name needs 1 to 16 bytes and no NUL");
    for (size_t j = 0; j < i; ++j)
      if (sections[j].name == section.name)
        return fail(where + ": duplicate section name");
    if (section.kind == static_cast<uint32_t>(ArtifactSectionKind::Manifest))
      ++manifests;
  }
  if (manifests != 1)
    return fail("an artifact needs exactly one manifest section, got " +
                std::to_string(manifests));

  const auto alignUp = [](uint64_t value) {
    return (value + kArtifactSectionAlignment - 1) / kArtifactSectionAlignment *
           kArtifactSectionAlignment;
  };
  std::vector<ArtifactSectionEntry> entries(sections.size());
  uint64_t offset = artifactTableEnd(sections.size());
  for (size_t i = 0; i < sections.size(); ++i) {
    offset = alignUp(offset);
    entries[i].kind = sections[i].kind;
    entries[i].offset = offset;
    entries[i].size = sections[i].payload.size();
    std::memcpy(entries[i].name, sections[i].name.data(),
                sections[i].name.size());
    offset += entries[i].size;
  }
  ArtifactHeader header;
  std::memcpy(header.magic, kArtifactMagic, 8);
  header.version = kArtifactVersion;
  header.sectionCount = static_cast<uint32_t>(sections.size());
  header.fileSize = offset + kArtifactChecksumSize;

  out.assign(static_cast<size_t>(header.fileSize), '\0');
  auto *bytes = reinterpret_cast<unsigned char *>(&out[0]);
  encodeArtifactHeader(header, bytes);
  for (size_t i = 0; i < entries.size(); ++i) {
    encodeArtifactSectionEntry(entries[i], bytes + artifactTableEnd(i));
    if (!sections[i].payload.empty())
      std::memcpy(bytes + entries[i].offset, sections[i].payload.data(),
                  sections[i].payload.size());
  }
  const size_t checksumAt = out.size() - kArtifactChecksumSize;
  storeLE64(bytes + checksumAt, fnv1a64(bytes, checksumAt));
  return true;
}

/// Writes the artifact of \p sections (see serializeArtifact()) to
/// `<path>.tmp` and renames it to \p path, so that a reader never sees half
/// a file; a \p path that exists and is not a regular file (`/dev/null`, a
/// pipe) is written in place instead, never replaced. Returns false with a
/// message in \p error (if non-null) on invalid sections or an I/O
/// failure; no temporary file is left behind then.
inline bool writeArtifact(const std::string &path,
                          const std::vector<ArtifactSection> &sections,
                          std::string *error) {
  std::string image;
  std::string message;
  if (!serializeArtifact(sections, image, &message)) {
    if (error)
      *error = path + ": " + message;
    return false;
  }
  struct stat existing;
  const bool special = ::stat(path.c_str(), &existing) == 0 &&
                       !S_ISREG(existing.st_mode);
  const std::string tmpPath = special ? path : path + ".tmp";
  const auto fail = [&](const char *what, int errorNumber) {
    if (!special)
      std::remove(tmpPath.c_str());
    if (error)
      *error = path + ": cannot " + what + " " + tmpPath + ": " +
               std::strerror(errorNumber);
    return false;
  };
  std::FILE *file = std::fopen(tmpPath.c_str(), "wb");
  if (!file) {
    int errorNumber = errno;
    if (error)
      *error = path + ": cannot create " + tmpPath + ": " +
               std::strerror(errorNumber);
    return false;
  }
  size_t written = std::fwrite(image.data(), 1, image.size(), file);
  int writeErrno = written == image.size() ? 0 : errno;
  if (std::fclose(file) != 0 && writeErrno == 0)
    writeErrno = errno ? errno : EIO;
  if (written != image.size() || writeErrno != 0)
    return fail("write", writeErrno ? writeErrno : EIO);
  if (!special && std::rename(tmpPath.c_str(), path.c_str()) != 0)
    return fail("rename", errno);
  return true;
}

} // namespace lctxrt

#endif // LCTXRT_ARTIFACT_FORMAT_H
