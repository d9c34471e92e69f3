//===- InputChecks.cpp - Checks on untrusted IR text before parsing -------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lctx/Support/InputChecks.h"

#include "llvm/ADT/Twine.h"
#include "llvm/Support/SourceMgr.h"

#include <cctype>

using namespace mlir;

std::optional<size_t> lctx::findExcessiveNesting(llvm::StringRef text,
                                                 unsigned limit) {
  unsigned depth = 0;
  for (size_t i = 0, e = text.size(); i < e; ++i) {
    char c = text[i];
    if (c == '"') {
      // Skip a string literal, honouring backslash escapes.
      for (++i; i < e && text[i] != '"'; ++i)
        if (text[i] == '\\')
          ++i;
      continue;
    }
    if (c == '/' && i + 1 < e && text[i + 1] == '/') {
      while (i < e && text[i] != '\n')
        ++i;
      continue;
    }
    if (c == '(' || c == '[' || c == '{' || c == '<') {
      if (++depth > limit)
        return i;
    } else if (c == ')' || c == ']' || c == '}' ||
               (c == '>' && (i == 0 || text[i - 1] != '-'))) {
      if (depth > 0)
        --depth;
    }
  }
  return std::nullopt;
}

namespace {
/// Whether `rest` starts with a well-formed `[]` or `[int (, int)*]`
/// (spaces allowed), or the generic form's `array<`.
bool startsWithIntegerList(llvm::StringRef rest) {
  rest = rest.ltrim();
  if (rest.starts_with("array<"))
    return true; // Parsed as an ordinary attribute.
  if (!rest.consume_front("["))
    return false;
  rest = rest.ltrim();
  if (rest.consume_front("]"))
    return true;
  for (;;) {
    rest.consume_front("-");
    size_t digits = rest.find_first_not_of("0123456789");
    if (digits == 0 || digits == llvm::StringRef::npos)
      return false;
    rest = rest.drop_front(digits).ltrim();
    if (rest.consume_front("]"))
      return true;
    if (!rest.consume_front(","))
      return false;
    rest = rest.ltrim();
  }
}

bool isIdentifierChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' ||
         c == '$';
}
} // namespace

std::optional<size_t> lctx::findMalformedIntegerList(llvm::StringRef text) {
  for (size_t i = 0, e = text.size(); i < e; ++i) {
    char c = text[i];
    if (c == '"') {
      for (++i; i < e && text[i] != '"'; ++i)
        if (text[i] == '\\')
          ++i;
      continue;
    }
    if (c == '/' && i + 1 < e && text[i + 1] == '/') {
      while (i < e && text[i] != '\n')
        ++i;
      continue;
    }
    for (llvm::StringRef keyword : {"permutation", "dimensions"}) {
      if (!text.substr(i).starts_with(keyword) ||
          (i > 0 && isIdentifierChar(text[i - 1])) ||
          (i + keyword.size() < e && isIdentifierChar(text[i + keyword.size()])))
        continue;
      llvm::StringRef rest = text.substr(i + keyword.size()).ltrim();
      if (rest.consume_front("=") && !startsWithIntegerList(rest))
        return i;
    }
  }
  return std::nullopt;
}

bool lctx::checkIRText(llvm::SourceMgr &sourceMgr, unsigned limit) {
  const llvm::MemoryBuffer *buffer =
      sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  if (std::optional<size_t> at =
          findExcessiveNesting(buffer->getBuffer(), limit)) {
    sourceMgr.PrintMessage(
        llvm::SMLoc::getFromPointer(buffer->getBufferStart() + *at),
        llvm::SourceMgr::DK_Error,
        llvm::Twine("brackets nest deeper than ") + llvm::Twine(limit) +
            " levels; refusing to parse");
    return false;
  }
  if (std::optional<size_t> at = findMalformedIntegerList(buffer->getBuffer())) {
    llvm::StringRef keyword =
        buffer->getBuffer().substr(*at).starts_with("permutation")
            ? "permutation"
            : "dimensions";
    sourceMgr.PrintMessage(
        llvm::SMLoc::getFromPointer(buffer->getBufferStart() + *at),
        llvm::SourceMgr::DK_Error,
        llvm::Twine("malformed integer list after '") + keyword +
            " =': expected [i, j, ...]");
    return false;
  }
  return true;
}
