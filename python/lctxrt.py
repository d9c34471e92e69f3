# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""lctxrt from Python: ctypes over the runtime's C API, numpy arrays in and out.

Nothing to build beyond the runtime library itself (liblctxrt.so, found
through $LCTXRT_LIBRARY, or next to this file's build tree):

    import lctxrt
    art = lctxrt.Artifact("model.lctx")
    weights = lctxrt.Weights("weights.safetensors")
    s = art.session(weights)                  # or device="cuda" / "cuda:1"
    logits = s.run("prefill", ids=np.array(..., dtype=np.int32))["logits"]
    s.reset_state(); s.state("global.pos")

Every failing call raises lctxrt.Error with the runtime's message.
"""
import ctypes
import glob
import os

import numpy as np

MAX_RANK = 8

ROLES = {0: "input", 1: "weight", 2: "output", 3: "state_in", 4: "state_out"}
DTYPES = {0: np.float32, 1: np.float16, 3: np.float64, 4: np.int64,
          5: np.int32, 6: np.int8, 7: np.uint8, 8: np.bool_, 9: np.complex64}
DTYPE_CODES = {np.dtype(v): k for k, v in DTYPES.items()}
BF16 = 2


class Error(RuntimeError):
    """A runtime error: `code` is the status code name, the message says
    what is wrong."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class _ArgInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("role", ctypes.c_int32),
                ("dtype", ctypes.c_int32), ("rank", ctypes.c_size_t),
                ("shape", ctypes.c_int64 * MAX_RANK),
                ("num_elements", ctypes.c_size_t),
                ("byte_size", ctypes.c_size_t)]


class _EntryInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("symbol", ctypes.c_char_p),
                ("section", ctypes.c_char_p), ("num_args", ctypes.c_size_t),
                ("args", ctypes.POINTER(_ArgInfo)),
                ("num_inputs", ctypes.c_size_t),
                ("num_weights", ctypes.c_size_t),
                ("num_outputs", ctypes.c_size_t),
                ("num_states", ctypes.c_size_t)]


class _View(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int32),
                ("rank", ctypes.c_size_t),
                ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("data", ctypes.c_void_p), ("byte_size", ctypes.c_size_t)]


class _SessionOptions(ctypes.Structure):
    _fields_ = [("device", ctypes.c_int32), ("device_index", ctypes.c_int32)]


DEVICES = {"cpu": 0, "cuda": 1}


def _parse_device(device):
    """"cpu", "cuda" or "cuda:N" -> (device code, index)."""
    kind, _, index = str(device).partition(":")
    if kind not in DEVICES or (index and (kind != "cuda" or
                                          not index.isdigit())):
        raise Error("INVALID_ARGUMENT", f"unknown device '{device}' "
                    "(devices: cpu, cuda, cuda:N)")
    return DEVICES[kind], int(index or 0)


def _find_library():
    path = os.environ.get("LCTXRT_LIBRARY")
    if path:
        return path
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for pattern in ("build/lib/liblctxrt.so", "build*/lib/liblctxrt.so"):
        found = sorted(glob.glob(os.path.join(root, pattern)))
        if found:
            return found[0]
    raise Error("NOT_FOUND", "liblctxrt.so not found: build lctx "
                "(scripts/build) or set LCTXRT_LIBRARY")


_lib = None


def _api():
    global _lib
    if _lib is not None:
        return _lib
    lib = ctypes.CDLL(_find_library())
    P = ctypes.c_void_p
    sigs = {
        "lctxrt_status_code": ([P], ctypes.c_int32),
        "lctxrt_status_message": ([P], ctypes.c_char_p),
        "lctxrt_status_code_name": ([ctypes.c_int32], ctypes.c_char_p),
        "lctxrt_status_free": ([P], None),
        "lctxrt_artifact_open": ([ctypes.c_char_p, ctypes.POINTER(P)], P),
        "lctxrt_artifact_close": ([P], None),
        "lctxrt_artifact_num_entry_points": ([P], ctypes.c_size_t),
        "lctxrt_artifact_entry_point_info": (
            [P, ctypes.c_size_t, ctypes.POINTER(_EntryInfo)], P),
        "lctxrt_safetensors_open": ([ctypes.c_char_p, ctypes.POINTER(P)], P),
        "lctxrt_safetensors_close": ([P], None),
        "lctxrt_session_create": ([P, P, ctypes.POINTER(P)], P),
        "lctxrt_session_create_with_options": (
            [P, P, ctypes.POINTER(_SessionOptions), ctypes.POINTER(P)], P),
        "lctxrt_session_device": ([P], ctypes.c_int32),
        "lctxrt_session_close": ([P], None),
        "lctxrt_session_run": ([P, ctypes.c_char_p, ctypes.c_size_t,
                                ctypes.POINTER(_View), ctypes.c_size_t,
                                ctypes.POINTER(_View)], P),
        "lctxrt_session_reset_state": ([P], P),
        "lctxrt_session_read_state": ([P, ctypes.c_char_p,
                                       ctypes.POINTER(_View)], P),
        "lctxrt_session_write_state": ([P, ctypes.POINTER(_View)], P),
    }
    for name, (args, res) in sigs.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, res
    _lib = lib
    return lib


def _check(status):
    if status:
        lib = _api()
        code = lib.lctxrt_status_code_name(
            lib.lctxrt_status_code(status)).decode()
        message = lib.lctxrt_status_message(status).decode()
        lib.lctxrt_status_free(status)
        raise Error(code, message)


class Weights:
    """A safetensors file, memory-mapped and validated."""

    def __init__(self, path):
        self._handle = ctypes.c_void_p()
        _check(_api().lctxrt_safetensors_open(path.encode(),
                                              ctypes.byref(self._handle)))

    def close(self):
        if self._handle:
            _api().lctxrt_safetensors_close(self._handle)
            self._handle = ctypes.c_void_p()

    def __del__(self):
        self.close()


class Artifact:
    """A compiled .lctx artifact."""

    def __init__(self, path):
        self.path = path
        self._handle = ctypes.c_void_p()
        _check(_api().lctxrt_artifact_open(path.encode(),
                                           ctypes.byref(self._handle)))
        self.entries = {}
        lib = _api()
        for i in range(lib.lctxrt_artifact_num_entry_points(self._handle)):
            info = _EntryInfo()
            _check(lib.lctxrt_artifact_entry_point_info(
                self._handle, i, ctypes.byref(info)))
            args = []
            for a in range(info.num_args):
                arg = info.args[a]
                args.append({"name": arg.name.decode(),
                             "role": ROLES[arg.role], "dtype": arg.dtype,
                             "shape": tuple(arg.shape[d]
                                            for d in range(arg.rank))})
            self.entries[info.name.decode()] = args

    def session(self, weights=None, device="cpu"):
        return Session(self, weights, device)

    def close(self):
        if self._handle:
            _api().lctxrt_artifact_close(self._handle)
            self._handle = ctypes.c_void_p()

    def __del__(self):
        self.close()


def _view(name, array, keep):
    if array.dtype not in DTYPE_CODES:
        raise Error("INVALID_ARGUMENT",
                    f"{name}: numpy dtype {array.dtype} has no lctxrt dtype")
    array = np.ascontiguousarray(array)
    shape = (ctypes.c_int64 * max(array.ndim, 1))(*array.shape)
    name_bytes = name.encode()
    keep += [array, shape, name_bytes]
    return _View(name_bytes, DTYPE_CODES[array.dtype], array.ndim, shape,
                 array.ctypes.data, array.nbytes)


def _to_array(view):
    if view.dtype not in DTYPES:
        raise Error("UNSUPPORTED", f"dtype code {view.dtype} is not "
                    "supported by this module")
    shape = tuple(view.shape[d] for d in range(view.rank))
    dtype = np.dtype(DTYPES[view.dtype])
    buf = (ctypes.c_char * view.byte_size).from_address(view.data)
    return np.frombuffer(buf, dtype=dtype).reshape(shape).copy()


class Session:
    """Runs an artifact's entry points; owns its recurrent states.

    device: "cpu" (default), "cuda" or "cuda:N" (GPU N; the artifact must
    come from lctx-compile --target=cuda). Inputs, outputs and states are
    numpy arrays on the host either way."""

    def __init__(self, artifact, weights=None, device="cpu"):
        self.artifact = artifact
        self._weights = weights
        self._handle = ctypes.c_void_p()
        code, index = _parse_device(device)
        self.device = "cuda" if code == 1 else "cpu"
        options = _SessionOptions(code, index)
        _check(_api().lctxrt_session_create_with_options(
            artifact._handle, weights._handle if weights else None,
            ctypes.byref(options), ctypes.byref(self._handle)))

    def run(self, entry, **inputs):
        """Runs `entry` with numpy inputs by name; returns the outputs by
        name as numpy arrays (copies)."""
        if entry not in self.artifact.entries:
            raise Error("NOT_FOUND", f"{self.artifact.path}: no entry point "
                        f"named '{entry}'")
        keep = []
        views = [_view(name, np.asarray(a), keep)
                 for name, a in inputs.items()]
        outs = [a["name"] for a in self.artifact.entries[entry]
                if a["role"] == "output"]
        out_views = []
        for name in outs:
            b = name.encode()
            keep.append(b)
            out_views.append(_View(b, 0, 0, None, None, 0))
        in_arr = (_View * max(len(views), 1))(*views)
        out_arr = (_View * max(len(out_views), 1))(*out_views)
        _check(_api().lctxrt_session_run(self._handle, entry.encode(),
                                         len(views), in_arr, len(out_views),
                                         out_arr))
        return {name: _to_array(out_arr[i]) for i, name in enumerate(outs)}

    def feed(self, ids):
        """Advances a token model's stream by `ids` [B, n], any n: blocks of
        S tokens through the derived `extend` entry while the model has one
        and its window has room, the rest one token at a time through
        `decode`. Returns the logits of the n positions, [B, n, V]. A call
        past the window raises OUT_OF_RANGE (the state stays where the last
        accepted step left it)."""
        ids = np.asarray(ids, np.int32)

        def one_input(entry):
            return next((a["name"], a["shape"]) for a in
                        self.artifact.entries[entry] if a["role"] == "input")

        name, _ = one_input("decode")
        block = 0
        if "extend" in self.artifact.entries:
            ext_name, shape = one_input("extend")
            block = shape[1]
        out, i, n = [], 0, ids.shape[1]
        while i < n:
            if block and n - i >= block:
                try:
                    chunk = {ext_name: ids[:, i:i + block]}
                    out.append(self.run("extend", **chunk)["logits"])
                    i += block
                    continue
                except Error as e:
                    if e.code != "OUT_OF_RANGE":
                        raise
                    block = 0  # no room for a block: token by token
            out.append(self.run("decode", **{name: ids[:, i:i + 1]})
                       ["logits"])
            i += 1
        return np.concatenate(out, 1)

    def reset_state(self):
        _check(_api().lctxrt_session_reset_state(self._handle))

    def state(self, name):
        view = _View()
        _check(_api().lctxrt_session_read_state(self._handle, name.encode(),
                                                ctypes.byref(view)))
        return _to_array(view)

    def set_state(self, name, array):
        keep = []
        view = _view(name, np.asarray(array), keep)
        _check(_api().lctxrt_session_write_state(self._handle,
                                                 ctypes.byref(view)))

    def close(self):
        if self._handle:
            _api().lctxrt_session_close(self._handle)
            self._handle = ctypes.c_void_p()

    def __del__(self):
        self.close()
