#!/usr/bin/env python3
"""Reproducer: opening and closing an artifact whose code cannot be unloaded
(a cpu.so with DF_1_NODELETE, or one dlclose keeps for any other reason)
fails with LCTXRT_INTERNAL "no unused /proc/self/fd name" from the 65th
time on, in one process (runtime/src/artifact.cc, the stale-name loop).

usage: nodelete-reopen.py BUILD_DIR     (a normal build: build/)
Builds test_kernel.c with -z nodelete, packs it with
lctxrt-make-test-artifacts and opens/closes axpy.lctx 100 times through the
C API. Exit status 1 while the bug is present.
"""
import ctypes, pathlib, subprocess, sys, tempfile

build = pathlib.Path(sys.argv[1]).resolve()
root = pathlib.Path(__file__).resolve().parents[4]
tmp = pathlib.Path(tempfile.mkdtemp())
kernel = tmp / "kernel.so"
subprocess.run(["clang-19", "-shared", "-fPIC", "-Wl,-z,nodelete",
                str(root / "runtime/tests/test_kernel.c"), "-o", str(kernel)],
               check=True)
subprocess.run([str(build / "bin/lctxrt-make-test-artifacts"), str(kernel),
                str(tmp / "a")], check=True, stdout=subprocess.DEVNULL)
lib = ctypes.CDLL(str(build / "lib/liblctxrt.so"))
lib.lctxrt_artifact_open.restype = ctypes.c_void_p
lib.lctxrt_artifact_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
lib.lctxrt_artifact_close.argtypes = [ctypes.c_void_p]
lib.lctxrt_status_message.restype = ctypes.c_char_p
lib.lctxrt_status_message.argtypes = [ctypes.c_void_p]
lib.lctxrt_status_code.argtypes = [ctypes.c_void_p]
path = str(tmp / "a/axpy.lctx").encode()
for i in range(100):
    handle = ctypes.c_void_p()
    status = lib.lctxrt_artifact_open(path, ctypes.byref(handle))
    if status:
        print(f"open #{i + 1}: code {lib.lctxrt_status_code(status)}: "
              f"{lib.lctxrt_status_message(status).decode()}")
        sys.exit(1)
    lib.lctxrt_artifact_close(handle)
print("100 open/close cycles: OK")
