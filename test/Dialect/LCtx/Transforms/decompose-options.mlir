// RUN: not lctx-opt %s -lctx-decompose="ops=memory.atention" 2>&1 | FileCheck %s
// An unknown op name in ops= is an error that names it and lists the choices.
// CHECK: error: lctx-decompose: unknown op 'memory.atention' in ops= (expected memory.attention or route.moe)
func.func @f() {
  return
}
