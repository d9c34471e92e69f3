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

namespace {
/// If a string literal (honouring backslash escapes) or a `//` comment
/// starts at `i`, moves `i` to its last character and returns true.
bool skipStringOrComment(llvm::StringRef text, size_t &i) {
  size_t e = text.size();
  if (text[i] == '"') {
    for (++i; i < e && text[i] != '"'; ++i)
      if (text[i] == '\\')
        ++i;
    return true;
  }
  if (text[i] == '/' && i + 1 < e && text[i + 1] == '/') {
    while (i < e && text[i] != '\n')
      ++i;
    return true;
  }
  return false;
}
} // namespace

std::optional<size_t> lctx::findExcessiveNesting(llvm::StringRef text,
                                                 unsigned limit) {
  unsigned depth = 0;
  for (size_t i = 0, e = text.size(); i < e; ++i) {
    char c = text[i];
    if (skipStringOrComment(text, i))
      continue;
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

/// True if the reassociation list starting at the first '[' of `rest` (before
/// the statement's ':' or the end of the line) holds an empty group, such as
/// `[[0], [], [1]]`: MLIR 19's reshape verifiers read the first expression
/// of every group and crash on an empty one.
bool hasEmptyReassociationGroup(llvm::StringRef rest) {
  size_t open = rest.find_first_of("[:\n");
  if (open == llvm::StringRef::npos || rest[open] != '[')
    return false;
  int depth = 0;
  for (size_t i = open, e = rest.size(); i < e; ++i) {
    char c = rest[i];
    if (c == '[') {
      ++depth;
      // MLIR's lexer skips stray NUL bytes like whitespace.
      if (depth == 2 && rest.substr(i + 1)
                            .drop_while([](char k) {
                              return k == '\0' ||
                                     std::isspace(static_cast<unsigned char>(k));
                            })
                            .starts_with("]"))
        return true;
    } else if (c == ']') {
      if (--depth == 0)
        return false;
    } else if (c == '\n' || c == ':') {
      return false;
    }
  }
  return false;
}

bool isIdentifierChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' ||
         c == '$';
}
} // namespace

std::optional<size_t> lctx::findMalformedIntegerList(llvm::StringRef text) {
  for (size_t i = 0, e = text.size(); i < e; ++i) {
    if (skipStringOrComment(text, i))
      continue;
    for (llvm::StringRef keyword : {"permutation", "dimensions"}) {
      if (!text.substr(i).starts_with(keyword) ||
          (i > 0 && isIdentifierChar(text[i - 1])) ||
          (i + keyword.size() < e && isIdentifierChar(text[i + keyword.size()])))
        continue;
      llvm::StringRef rest = text.substr(i + keyword.size()).ltrim();
      if (rest.consume_front("=") && !startsWithIntegerList(rest))
        return i;
    }
    for (llvm::StringRef keyword :
         {"collapse_shape", "expand_shape", "reassociation"}) {
      if (!text.substr(i).starts_with(keyword) ||
          (i > 0 && isIdentifierChar(text[i - 1]) && text[i - 1] != '.') ||
          (i + keyword.size() < e && isIdentifierChar(text[i + keyword.size()])))
        continue;
      if (hasEmptyReassociationGroup(text.substr(i + keyword.size())))
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
    llvm::StringRef found = buffer->getBuffer().substr(*at);
    llvm::SMLoc loc =
        llvm::SMLoc::getFromPointer(buffer->getBufferStart() + *at);
    if (!found.starts_with("permutation") && !found.starts_with("dimensions")) {
      llvm::StringRef keyword = found.take_while(
          [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
      sourceMgr.PrintMessage(
          loc, llvm::SourceMgr::DK_Error,
          llvm::Twine("empty group in the reassociation of '") + keyword +
              "': every group needs at least one dimension");
      return false;
    }
    llvm::StringRef keyword =
        found.starts_with("permutation") ? "permutation" : "dimensions";
    sourceMgr.PrintMessage(loc, llvm::SourceMgr::DK_Error,
                           llvm::Twine("malformed integer list after '") +
                               keyword + " =': expected [i, j, ...]");
    return false;
  }
  return true;
}
