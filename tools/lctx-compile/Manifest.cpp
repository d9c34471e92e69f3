//===- Manifest.cpp - The artifact manifest of a compiled module ----------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "Manifest.h"

#include "lctx/Dialect/LCtx/IR/LCtxDialect.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

/// The safetensors-style dtype name of `type`, or "" if unsupported.
static std::string dtypeName(Type type) {
  if (type.isF32())
    return "F32";
  if (type.isF16())
    return "F16";
  if (type.isBF16())
    return "BF16";
  if (type.isF64())
    return "F64";
  if (type.isInteger(64))
    return "I64";
  if (type.isInteger(32))
    return "I32";
  if (type.isInteger(8))
    return "I8";
  if (type.isInteger(1))
    return "BOOL";
  if (auto c = dyn_cast<ComplexType>(type); c && c.getElementType().isF32())
    return "C64";
  return "";
}

static LogicalResult describe(Location loc, Type type, llvm::StringRef what,
                              lctxc::ManifestArg &arg) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape())
    return emitError(loc) << what << " '" << arg.name
                          << "' must be a statically shaped tensor for the "
                             "artifact, got "
                          << type;
  arg.dtype = dtypeName(tensor.getElementType());
  if (arg.dtype.empty())
    return emitError(loc) << what << " '" << arg.name
                          << "' has an element type the runtime cannot hold: "
                          << tensor.getElementType();
  arg.shape.assign(tensor.getShape().begin(), tensor.getShape().end());
  return success();
}

LogicalResult lctxc::collectEntryPoints(ModuleOp module,
                                       std::vector<ManifestEntry> &entries) {
  using mlir::lctx::LCtxDialect;
  // Every entry point that uses a state agrees on its type: the runtime
  // holds one buffer per state name for all of them.
  llvm::StringMap<std::pair<Type, Location>> stateTypes;
  auto checkState = [&](StringRef name, Type type, Location loc) {
    auto [it, inserted] = stateTypes.try_emplace(name, type, loc);
    if (inserted || it->second.first == type)
      return success();
    InFlightDiagnostic diag = emitError(loc)
                              << "state '" << name << "' is " << type
                              << " here but " << it->second.first
                              << " in another entry point";
    diag.attachNote(it->second.second) << "other use of the state";
    return failure();
  };
  for (auto func : module.getOps<func::FuncOp>()) {
    if (!func.isPublic() || func.isExternal())
      continue;
    ManifestEntry entry;
    entry.name = func.getSymName().str();
    if (auto advance = func->getAttrOfType<DictionaryAttr>(
            LCtxDialect::getAdvanceAttrName())) {
      // Verified by the dialect: a state name, positive steps and limit.
      entry.advance.state =
          advance.getAs<StringAttr>("state").getValue().str();
      entry.advance.steps = advance.getAs<IntegerAttr>("steps").getInt();
      entry.advance.limit = advance.getAs<IntegerAttr>("limit").getInt();
    }
    for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
      ManifestArg arg;
      if (auto w = func.getArgAttrOfType<StringAttr>(
              i, LCtxDialect::getWeightAttrName())) {
        arg.name = w.str();
        arg.role = "weight";
      } else if (auto in = func.getArgAttrOfType<StringAttr>(
                     i, LCtxDialect::getInputAttrName())) {
        arg.name = in.str();
        arg.role = "input";
      } else if (auto st = func.getArgAttrOfType<StringAttr>(
                     i, LCtxDialect::getStateAttrName())) {
        arg.name = st.str();
        arg.role = "state_in";
      } else {
        arg.name = "input" + std::to_string(i);
        arg.role = "input";
      }
      Location loc = func.getArgument(i).getLoc();
      if (failed(describe(loc, func.getArgumentTypes()[i],
                          arg.role == "state_in" ? "state" : arg.role, arg)))
        return failure();
      if (arg.role == "state_in" &&
          failed(checkState(arg.name, func.getArgumentTypes()[i], loc)))
        return failure();
      entry.args.push_back(std::move(arg));
    }
    for (unsigned i = 0, e = func.getNumResults(); i < e; ++i) {
      ManifestArg arg;
      if (auto st = func.getResultAttrOfType<StringAttr>(
              i, LCtxDialect::getStateAttrName())) {
        arg.name = st.str();
        arg.role = "state_out";
      } else if (auto out = func.getResultAttrOfType<StringAttr>(
                     i, LCtxDialect::getOutputAttrName())) {
        arg.name = out.str();
        arg.role = "output";
      } else {
        arg.name = "result" + std::to_string(i);
        arg.role = "output";
      }
      if (failed(describe(func.getLoc(), func.getResultTypes()[i],
                          arg.role == "output" ? "result" : "state", arg)))
        return failure();
      entry.args.push_back(std::move(arg));
    }
    // Inputs, weights and outputs are addressed by name at run time; a
    // state's two halves share theirs.
    llvm::StringMap<std::string> roles;
    for (const ManifestArg &a : entry.args) {
      if (a.role == "state_out")
        continue;
      auto [it, inserted] = roles.try_emplace(a.name, a.role);
      if (!inserted)
        return emitError(func.getLoc())
               << "entry point '" << entry.name << "' uses the name '"
               << a.name << "' for both " << it->second << " and " << a.role
               << "; the artifact addresses arguments by name";
    }
    entries.push_back(std::move(entry));
  }
  if (entries.empty())
    return emitError(module.getLoc())
           << "no entry point: the module has no public function with a body";
  return success();
}

uint64_t lctxc::stateBytes(const std::vector<ManifestEntry> &entries,
                           size_t *numStates) {
  static const llvm::StringMap<uint64_t> kSizes = {
      {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F64", 8}, {"I64", 8},
      {"I32", 4}, {"I8", 1},  {"U8", 1},   {"BOOL", 1}, {"C64", 8}};
  llvm::StringSet<> seen;
  uint64_t bytes = 0;
  for (const ManifestEntry &e : entries)
    for (const ManifestArg &a : e.args) {
      if (a.role != "state_in" || !seen.insert(a.name).second)
        continue;
      uint64_t n = kSizes.lookup(a.dtype);
      for (int64_t d : a.shape)
        n *= static_cast<uint64_t>(d);
      bytes += n;
    }
  if (numStates)
    *numStates = seen.size();
  return bytes;
}

lctxc::ManifestModel lctxc::collectModel(ModuleOp module) {
  ManifestModel model;
  auto dict = module->getAttrOfType<DictionaryAttr>(
      mlir::lctx::LCtxDialect::getModelAttrName());
  if (!dict)
    return model;
  for (NamedAttribute entry : dict) {
    ManifestModelEntry e;
    e.key = entry.getName().str();
    if (auto s = dyn_cast<StringAttr>(entry.getValue())) {
      e.text = s.str();
    } else if (auto i = dyn_cast<IntegerAttr>(entry.getValue())) {
      e.integer = i.getInt();
      e.isInteger = true;
    }
    model.push_back(std::move(e));
  }
  return model;
}

std::string lctxc::writeManifest(const std::vector<ManifestEntry> &entries,
                                const ManifestGPU &gpu,
                                const ManifestTarget &target,
                                const ManifestModel &model) {
  std::string text;
  llvm::raw_string_ostream os(text);
  llvm::json::OStream j(os, /*IndentSize=*/1);
  auto shape = [&](const std::vector<int64_t> &dims) {
    j.attributeArray("shape", [&] {
      for (int64_t d : dims)
        j.value(d);
    });
  };
  j.object([&] {
    j.attribute("format", "lctx-artifact");
    j.attribute("version", 1);
    j.attribute("producer", "lctx-compile 0.1");
    // The generated code assumes no alignment beyond the element size, so
    // the runtime can bind weights in place from a safetensors mapping.
    j.attribute("buffer_alignment", 4);
    if (!model.empty())
      j.attributeObject("model", [&] {
        for (const ManifestModelEntry &e : model) {
          if (e.isInteger)
            j.attribute(e.key, e.integer);
          else
            j.attribute(e.key, e.text);
        }
      });
    j.attributeObject("target", [&] {
      j.attribute("kind", "cpu");
      j.attribute("triple", target.triple);
      j.attribute("cpu", target.cpu);
      j.attribute("features", target.features);
    });
    // The GPU kernels of the model (docs/artifact.md): not run by this
    // runtime yet, carried so that one file serves both devices.
    if (!gpu.section.empty())
      j.attributeObject("gpu", [&] {
        j.attribute("kind", "cuda");
        j.attribute("arch", gpu.arch);
        j.attribute("section", gpu.section);
        j.attribute("format", gpu.format);
        j.attribute("kernels", gpu.kernels);
        if (!gpu.entryPrefix.empty())
          j.attribute("entry_prefix", gpu.entryPrefix);
      });
    j.attributeArray("entry_points", [&] {
      for (const ManifestEntry &e : entries)
        j.object([&] {
          j.attribute("name", e.name);
          j.attribute("symbol", "lctx_entry_" + e.name);
          j.attribute("section", "cpu.so");
          if (!e.inPlaceStates.empty())
            j.attributeArray("inplace_states", [&] {
              for (const std::string &s : e.inPlaceStates)
                j.value(s);
            });
          if (!e.advance.state.empty())
            j.attributeObject("advance", [&] {
              j.attribute("state", e.advance.state);
              j.attribute("steps", e.advance.steps);
              j.attribute("limit", e.advance.limit);
            });
          j.attributeArray("args", [&] {
            for (const ManifestArg &a : e.args)
              j.object([&] {
                j.attribute("name", a.name);
                j.attribute("role", a.role);
                j.attribute("dtype", a.dtype);
                shape(a.shape);
              });
          });
        });
    });
    // Each state (held by the runtime per session, docs/artifact.md) and
    // each weight once, across entry points.
    auto uniqueArgs = [&](const char *key, llvm::StringRef role) {
      j.attributeArray(key, [&] {
        llvm::StringSet<> seen;
        for (const ManifestEntry &e : entries)
          for (const ManifestArg &a : e.args) {
            if (a.role != role || !seen.insert(a.name).second)
              continue;
            j.object([&] {
              j.attribute("name", a.name);
              j.attribute("dtype", a.dtype);
              shape(a.shape);
            });
          }
      });
    };
    uniqueArgs("states", "state_in");
    uniqueArgs("weights", "weight");
  });
  os << "\n";
  return text;
}

std::string lctxc::writeCHeader(const std::vector<ManifestEntry> &entries,
                               llvm::StringRef guard) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "/* Generated by lctx-compile: C-callable lctx entry points. */\n"
     << "#ifndef " << guard << "\n#define " << guard << "\n\n"
     << "#include <stdint.h>\n\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
     << "/* A memref descriptor of rank R (docs/artifact.md): allocated and\n"
     << "   aligned data pointers, offset, sizes[R], strides[R]. */\n"
     << "#define LCTX_MEMREF(R) struct { void *allocated; void *aligned; "
        "int64_t offset; int64_t sizes[R]; int64_t strides[R]; }\n\n";
  for (const ManifestEntry &e : entries) {
    os << "/* " << e.name << ": args[i] points to the descriptor of\n";
    for (size_t i = 0; i < e.args.size(); ++i) {
      const ManifestArg &a = e.args[i];
      os << " *   [" << i << "] " << a.role << " '" << a.name << "' " << a.dtype
         << " [";
      for (size_t d = 0; d < a.shape.size(); ++d)
        os << (d ? ", " : "") << a.shape[d];
      os << "]\n";
    }
    os << " */\nvoid lctx_entry_" << e.name << "(void **args);\n\n";
  }
  os << "#ifdef __cplusplus\n}\n#endif\n\n#endif /* " << guard << " */\n";
  return text;
}
