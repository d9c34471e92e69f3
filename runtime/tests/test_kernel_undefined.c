/*===- test_kernel_undefined.c - Code that cannot be loaded -------*- C -*-===*\
|*                                                                          *|
|* SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception                  *|
|*                                                                          *|
\*===----------------------------------------------------------------------===*/

/* A shared object with an unresolvable reference: dlopen(RTLD_NOW) fails,
 * which the artifact reader must report as an error. */

extern void lctx_test_function_that_does_not_exist(void);

void lctx_entry_axpy(void **args) {
  (void)args;
  lctx_test_function_that_does_not_exist();
}
