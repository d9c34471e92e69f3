//===- dtype.cc - Element types and conversions -----------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "dtype.h"
#include "status.h"

#include <cstdint>
#include <cstring>
#include <string>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "lctxrt assumes a little-endian host, like the safetensors format"
#endif

namespace {

struct DtypeDesc {
  lctxrt_dtype_t dtype;
  const char *name;
  size_t size;
};

/// Indexed by lctxrt_dtype_t.
constexpr DtypeDesc kDtypes[] = {
    {LCTXRT_DTYPE_F32, "F32", 4},   {LCTXRT_DTYPE_F16, "F16", 2},
    {LCTXRT_DTYPE_BF16, "BF16", 2}, {LCTXRT_DTYPE_F64, "F64", 8},
    {LCTXRT_DTYPE_I64, "I64", 8},   {LCTXRT_DTYPE_I32, "I32", 4},
    {LCTXRT_DTYPE_I8, "I8", 1},     {LCTXRT_DTYPE_U8, "U8", 1},
    {LCTXRT_DTYPE_BOOL, "BOOL", 1}, {LCTXRT_DTYPE_C64, "C64", 8},
};
constexpr size_t kNumDtypes = sizeof(kDtypes) / sizeof(kDtypes[0]);

/// Safetensors dtypes (as of safetensors 0.6) that lctxrt does not handle.
constexpr const char *kUnsupportedDtypes[] = {
    "F4",      "F6_E2M3", "F6_E3M2", "F8_E5M2", "F8_E4M3",
    "F8_E8M0", "I16",     "U16",     "U32",     "U64",
};

const DtypeDesc *describe(lctxrt_dtype_t dtype) {
  auto index = static_cast<size_t>(dtype);
  return index < kNumDtypes ? &kDtypes[index] : nullptr;
}

/// Converts IEEE binary16 bits to the binary32 bits of the same value.
uint32_t halfToFloatBits(uint16_t half) {
  uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  uint32_t exponent = (half >> 10) & 0x1fu;
  uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0x1f) // Infinity or NaN; keep the payload.
    return sign | 0x7f800000u | (mantissa << 13);
  if (exponent != 0) // Normal: rebias 15 -> 127.
    return sign | ((exponent + 112) << 23) | (mantissa << 13);
  if (mantissa == 0) // Signed zero.
    return sign;
  // Subnormal: value = mantissa * 2^-24. Normalize so that the leading one
  // moves to bit 10; each shift lowers the exponent by one.
  uint32_t floatExponent = 113; // Biased exponent of 2^-14.
  while ((mantissa & 0x400u) == 0) {
    mantissa <<= 1;
    --floatExponent;
  }
  return sign | (floatExponent << 23) | ((mantissa & 0x3ffu) << 13);
}

} // namespace

lctxrt::DtypeLookup lctxrt::lookupDtype(std::string_view name,
                                        lctxrt_dtype_t &out) {
  for (const DtypeDesc &desc : kDtypes) {
    if (name == desc.name) {
      out = desc.dtype;
      return DtypeLookup::Supported;
    }
  }
  for (const char *unsupported : kUnsupportedDtypes)
    if (name == unsupported)
      return DtypeLookup::Unsupported;
  return DtypeLookup::Unknown;
}

extern "C" {

size_t lctxrt_dtype_size(lctxrt_dtype_t dtype) {
  const DtypeDesc *desc = describe(dtype);
  return desc ? desc->size : 0;
}

const char *lctxrt_dtype_name(lctxrt_dtype_t dtype) {
  const DtypeDesc *desc = describe(dtype);
  return desc ? desc->name : nullptr;
}

lctxrt_status_t lctxrt_dtype_from_name(const char *name, lctxrt_dtype_t *out) {
  return lctxrt::guardStatus(__func__, [&]() -> lctxrt_status_t {
    if (!name || !out)
      return lctxrt::makeStatus(LCTXRT_INVALID_ARGUMENT,
                                "lctxrt_dtype_from_name: NULL argument");
    switch (lctxrt::lookupDtype(name, *out)) {
    case lctxrt::DtypeLookup::Supported:
      return nullptr;
    case lctxrt::DtypeLookup::Unsupported:
      return lctxrt::makeStatus(LCTXRT_UNSUPPORTED,
                                "dtype '" + std::string(name) +
                                    "' is not supported by lctxrt");
    case lctxrt::DtypeLookup::Unknown:
      break;
    }
    return lctxrt::makeStatus(LCTXRT_NOT_FOUND,
                              "unknown dtype '" + std::string(name) + "'");
  });
}

lctxrt_status_t lctxrt_convert_to_f32(const void *src, lctxrt_dtype_t src_dtype,
                                      size_t count, float *dst) {
  return lctxrt::guardStatus(__func__, [&]() -> lctxrt_status_t {
    if (count > 0 && (!src || !dst))
      return lctxrt::makeStatus(LCTXRT_INVALID_ARGUMENT,
                                "lctxrt_convert_to_f32: NULL buffer");
    const auto *bytes = static_cast<const unsigned char *>(src);
    switch (src_dtype) {
    case LCTXRT_DTYPE_F32:
      if (count > 0)
        std::memcpy(dst, src, count * sizeof(float));
      return nullptr;
    case LCTXRT_DTYPE_F16:
    case LCTXRT_DTYPE_BF16:
      for (size_t i = 0; i < count; ++i) {
        uint16_t half;
        std::memcpy(&half, bytes + 2 * i, sizeof(half));
        uint32_t bits = src_dtype == LCTXRT_DTYPE_F16
                            ? halfToFloatBits(half)
                            : static_cast<uint32_t>(half) << 16;
        std::memcpy(&dst[i], &bits, sizeof(bits));
      }
      return nullptr;
    default:
      break;
    }
    const char *name = lctxrt_dtype_name(src_dtype);
    return lctxrt::makeStatus(
        LCTXRT_UNSUPPORTED,
        std::string("lctxrt_convert_to_f32: cannot convert from ") +
            (name ? name
                  : "invalid dtype " +
                        std::to_string(static_cast<int>(src_dtype))));
  });
}

} // extern "C"
