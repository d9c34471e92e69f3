//===- InputChecks.h - Checks on untrusted IR text before parsing -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// MLIR's parser recurses once per nesting level of brackets, so a crafted
// file with tens of thousands of `[` overflows the stack, and a few MLIR 19
// op parsers crash on malformed integer lists. lctx tools scan their input
// first and reject such text with a located error.
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_SUPPORT_INPUTCHECKS_H
#define LCTX_SUPPORT_INPUTCHECKS_H

#include "llvm/ADT/StringRef.h"

#include <cstddef>
#include <optional>

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace mlir::lctx {

/// Default bound on bracket nesting in IR text; real lctx models stay far
/// below it (a function body nests a few dozen levels at most).
constexpr unsigned kMaxIRNestingDepth = 512;

/// Scans `text` for `(`, `[`, `{`, `<` nesting outside string literals and
/// `//` comments (`->` is not a bracket). Returns the byte offset at which
/// the depth first exceeds `limit`, or nullopt when it never does.
std::optional<size_t> findExcessiveNesting(llvm::StringRef text,
                                           unsigned limit = kMaxIRNestingDepth);

/// MLIR 19's custom parsers of linalg.transpose, linalg.broadcast and
/// linalg.reduce crash on a malformed integer list after `permutation =` or
/// `dimensions =` (`[1 0]`, `[1,>`, `x`): returns the offset of the first
/// such keyword (outside strings and comments) not followed by `[]`,
/// `[int, ...]` or the generic form's `array<`. MLIR 19's reshape
/// verifiers crash on an empty group in a reassociation list
/// (`tensor.collapse_shape %x [[0], [], [1]]`, `reassociation = [[]]`):
/// such a list after `collapse_shape`, `expand_shape` or `reassociation`
/// is reported too. Returns the offset of the keyword, or nullopt.
std::optional<size_t> findMalformedIntegerList(llvm::StringRef text);

/// Checks the main buffer of `sourceMgr` before parsing (excessive nesting,
/// malformed integer lists); on a problem prints a located error through
/// the SourceMgr and returns false.
bool checkIRText(llvm::SourceMgr &sourceMgr,
                 unsigned limit = kMaxIRNestingDepth);

} // namespace mlir::lctx

#endif // LCTX_SUPPORT_INPUTCHECKS_H
