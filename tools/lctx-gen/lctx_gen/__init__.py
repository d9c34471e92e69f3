# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""lctx-gen: model definitions in the lctx dialect from JSON configs."""
