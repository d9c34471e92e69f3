# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""A tiny builder of lctx-dialect MLIR text with static shapes.

Values carry their shape and element type, so every op's type annotations
are written from them; the blocks shared by the architectures (pre-norm
transformer layers) live here; decode entry points are derived from the
prefill by lctx-compile.
"""


def module_text(header, model, fns):
    """The definition file: a comment header, then a module carrying the
    `lctx.model` description (key -> str or int) and the functions."""
    attrs = ", ".join(f'{k} = "{v}"' if isinstance(v, str) else
                      f"{k} = {v} : i64" for k, v in model.items())
    body = "\n".join(fn.text() for fn in fns)
    body = "".join(f"  {line}\n" if line else "\n"
                   for line in body.splitlines())
    return (header + f"module attributes {{lctx.model = {{{attrs}}}}} {{\n"
            + body + "}\n")


def decoder_prefill(c, stack):
    """prefill(ids [B, T]) -> logits [B, T, V] of a decoder whose logits are
    tied to its embedding; `stack(f, x)` writes the layers and the final
    norm. lctx-compile derives its decode entry (lctx.decode)."""
    b, t, v, d = c["batch"], c["context"], c["vocab"], c["dim"]
    f = Func("prefill", decode="decode", extend=c.get("extend"))
    ids = f.input("ids", [b, t], "i32")
    emb = f.weight("embed", [v, d])
    x = stack(f, f.embedding(emb, ids))
    f.output("logits", f.linear(x, emb, transpose=True))
    return f


def ty(shape, elt="f32"):
    return "tensor<" + "".join(f"{d}x" for d in shape) + elt + ">"


class Value:
    def __init__(self, name, shape, elt="f32"):
        self.name, self.shape, self.elt = name, list(shape), elt

    @property
    def type(self):
        return ty(self.shape, self.elt)

    def __str__(self):
        return self.name


class Func:
    """One func.func: arguments with lctx attributes, a body, results."""

    def __init__(self, name, decode=None, extend=None):
        """`decode` names the one-token entry point lctx-compile derives
        from this function (`lctx.decode`, pass lctx-derive-decode);
        `extend` (tokens, 0 or None: none) asks for the entry `extend` that
        advances the decode state by that many tokens at once
        (`lctx.extend`)."""
        self.name = name
        self.decode = decode
        self.extend = extend
        self.args, self.lines, self.results = [], [], []
        self.counter = 0
        self.weights = {}
        self.consts = {}

    def fresh(self, hint="v"):
        self.counter += 1
        return f"%{hint}{self.counter}"

    def _arg(self, shape, elt, attr, name):
        v = Value(f"%a{len(self.args)}", shape, elt)
        self.args.append((v, f'{{{attr} = "{name}"}}'))
        return v

    def input(self, name, shape, elt="f32"):
        return self._arg(shape, elt, "lctx.input", name)

    def weight(self, name, shape, elt="f32"):
        if name in self.weights:
            return self.weights[name]
        v = self._arg(shape, elt, "lctx.weight", name)
        self.weights[name] = v
        return v

    def state(self, name, shape, elt="f32"):
        return self._arg(shape, elt, "lctx.state", name)

    def emit(self, text, shape=None, elt="f32", hint="v"):
        """Emits `%new = text` (or just `text` when shape is None)."""
        if shape is None:
            self.lines.append(text)
            return None
        v = Value(self.fresh(hint), shape, elt)
        self.lines.append(f"{v} = {text}")
        return v

    def const_index(self, value):
        key = ("index", value)
        if key not in self.consts:
            self.consts[key] = self.emit(f"arith.constant {value} : index",
                                         [], "index", hint="c")
        return self.consts[key]

    def const_i64(self, value):
        key = ("i64", value)
        if key not in self.consts:
            self.consts[key] = self.emit(f"arith.constant {value} : i64", [],
                                         "i64", hint="c")
        return self.consts[key]

    def output(self, name, value):
        self.results.append((value, f'{{lctx.output = "{name}"}}'))

    def state_out(self, name, value):
        self.results.append((value, f'{{lctx.state = "{name}"}}'))

    def text(self):
        args = ",\n    ".join(f"{v}: {v.type} {attr}" for v, attr in self.args)
        res = ", ".join(f"{v.type} {attr}" for v, attr in self.results)
        fattrs = []
        if self.decode:
            fattrs.append(f'lctx.decode = "{self.decode}"')
        if self.extend:
            fattrs.append(f'lctx.extend = {{entry = "extend", tokens = '
                          f'{self.extend} : i64}}')
        attrs = (f" attributes {{{', '.join(fattrs)}}}" if fattrs else "")
        out = [f"func.func @{self.name}(\n    {args})\n    -> ({res}){attrs} {{"]
        out += [f"  {line}" for line in self.lines]
        names = ", ".join(str(v) for v, _ in self.results)
        types = ", ".join(v.type for v, _ in self.results)
        out.append(f"  return {names} : {types}")
        out.append("}")
        return "\n".join(out) + "\n"

    # --- ops ---------------------------------------------------------------

    def embedding(self, table, ids):
        return self.emit(f"lctx.embedding {table}, {ids} : {table.type}, "
                         f"{ids.type}", ids.shape + [table.shape[1]])

    def rms_norm(self, x, w):
        return self.emit(f"lctx.rms_norm {x}, {w} : {x.type}, {w.type}",
                         x.shape)

    def linear(self, x, w, transpose=False):
        out = w.shape[0] if transpose else w.shape[1]
        attr = " {transpose_weight}" if transpose else ""
        return self.emit(f"lctx.linear {x}, {w}{attr} : {x.type}, {w.type}",
                         x.shape[:-1] + [out])

    def ffn(self, act, x, w_in, w_out):
        return self.emit(f"lctx.ffn {act} {x}, {w_in}, {w_out} : {x.type}, "
                         f"{w_in.type}, {w_out.type}",
                         x.shape[:-1] + [w_out.shape[1]])

    def add(self, a, b):
        return self.emit(f"arith.addf {a}, {b} : {a.type}", a.shape, a.elt)

    def expand(self, x, groups, shape):
        g = ", ".join("[" + ", ".join(str(i) for i in grp) + "]"
                      for grp in groups)
        dims = ", ".join(str(d) for d in shape)
        return self.emit(f"tensor.expand_shape {x} [{g}] output_shape "
                         f"[{dims}] : {x.type} into {ty(shape, x.elt)}",
                         shape, x.elt)

    def collapse(self, x, groups):
        shape = []
        for grp in groups:
            n = 1
            for i in grp:
                n *= x.shape[i]
            shape.append(n)
        g = ", ".join("[" + ", ".join(str(i) for i in grp) + "]"
                      for grp in groups)
        return self.emit(f"tensor.collapse_shape {x} [{g}] : {x.type} into "
                         f"{ty(shape, x.elt)}", shape, x.elt)

    def transpose(self, x, perm):
        shape = [x.shape[p] for p in perm]
        init = self.emit(f"tensor.empty() : {ty(shape, x.elt)}", shape, x.elt)
        p = ", ".join(str(i) for i in perm)
        return self.emit(f"linalg.transpose ins({x} : {x.type}) outs({init} : "
                         f"{init.type}) permutation = [{p}]", shape, x.elt)

    def scalar_index(self, pos):
        """The i64 in pos : tensor<1xi64>, and the same as an index."""
        c0 = self.const_index(0)
        p64 = self.emit(f"tensor.extract {pos}[{c0}] : {pos.type}", [], "i64",
                        hint="p")
        p = self.emit(f"arith.index_cast {p64} : i64 to index", [], "index",
                      hint="p")
        return p64, p

    def increment(self, pos, p64, by=1):
        """pos + by as a tensor<1xi64>."""
        n = self.emit(f"arith.addi {p64}, {self.const_i64(by)} : i64", [],
                      "i64", hint="p")
        return self.emit(f"tensor.from_elements {n} : {pos.type}", pos.shape,
                         "i64")

    def generic(self, shape, inputs, body, elt="f32"):
        """An elementwise linalg.generic over `shape`: `inputs` are (value,
        [result dims it is indexed by]); `body` lines see the block
        arguments %in0, %in1, ... and end with `linalg.yield`."""
        rank = len(shape)
        dims = ", ".join(f"d{i}" for i in range(rank))
        maps = [f"affine_map<({dims}) -> ("
                + ", ".join(f"d{i}" for i in vd) + ")>" for _, vd in inputs]
        maps.append(f"affine_map<({dims}) -> ({dims})>")
        init = self.emit(f"tensor.empty() : {ty(shape, elt)}", shape, elt)
        res = Value(self.fresh("g"), shape, elt)
        iters = ", ".join(['"parallel"'] * rank)
        args = ", ".join(f"%in{k}: {v.elt}" for k, (v, _) in
                         enumerate(inputs))
        self.lines.append(
            f"{res} = linalg.generic {{indexing_maps = [{', '.join(maps)}], "
            f"iterator_types = [{iters}]}} ins("
            + ", ".join(str(v) for v, _ in inputs) + " : "
            + ", ".join(v.type for v, _ in inputs)
            + f") outs({init} : {init.type}) {{")
        self.lines.append(f"  ^bb0({args}, %out: {elt}):")
        self.lines += [f"    {line}" for line in body]
        self.lines.append(f"  }} -> {init.type}")
        return res

    def silu(self, x):
        n = len(x.shape)
        return self.generic(x.shape, [(x, list(range(n)))], [
            "%neg = arith.negf %in0 : f32",
            "%e = math.exp %neg : f32",
            "%one = arith.constant 1.0 : f32",
            "%den = arith.addf %one, %e : f32",
            "%s = arith.divf %in0, %den : f32",
            "linalg.yield %s : f32"])

    def mul(self, a, b):
        return self.emit(f"arith.mulf {a}, {b} : {a.type}", a.shape, a.elt)

    def linear_bias(self, x, w, b):
        return self.emit(f"lctx.linear {x}, {w}, {b} : {x.type}, {w.type}, "
                         f"{b.type}", x.shape[:-1] + [w.shape[1]])

    # --- blocks ------------------------------------------------------------

    def split_heads(self, x, heads):
        """[N, T, D] -> [N, H, T, D/H]."""
        n, t, d = x.shape
        x4 = self.expand(x, [[0], [1], [2, 3]], [n, t, heads, d // heads])
        return self.transpose(x4, [0, 2, 1, 3])

    def merge_heads(self, x):
        """[N, H, T, Dh] -> [N, T, H * Dh]."""
        xt = self.transpose(x, [0, 2, 1, 3])
        return self.collapse(xt, [[0], [1], [2, 3]])

    def layer_weights(self, prefix, width, ffn, dense_ffn=True):
        w = {}
        w["norm1"] = self.weight(f"{prefix}.norm1", [width])
        for name in ("wq", "wk", "wv", "wo"):
            w[name] = self.weight(f"{prefix}.attn.{name}", [width, width])
        w["norm2"] = self.weight(f"{prefix}.norm2", [width])
        if dense_ffn:
            w["w_in"] = self.weight(f"{prefix}.ffn.w_in", [width, ffn])
            w["w_out"] = self.weight(f"{prefix}.ffn.w_out", [ffn, width])
        return w

    def layer(self, x, prefix, heads, ffn, act, rope_theta, ffn_fn=None):
        """A pre-norm transformer layer over x : [N, T, D] with causal
        self-attention over the T positions (its decode step is derived by
        lctx-compile). Returns x'."""
        n, t, d = x.shape
        w = self.layer_weights(prefix, d, ffn, dense_ffn=ffn_fn is None)
        h = self.rms_norm(x, w["norm1"])
        q = self.split_heads(self.linear(h, w["wq"]), heads)
        k = self.split_heads(self.linear(h, w["wk"]), heads)
        v = self.split_heads(self.linear(h, w["wv"]), heads)
        attrs = f"{{rope_theta = {rope_theta:.1f} : f32}}"
        a = self.emit(f"lctx.attention {q}, {k}, {v} {attrs} : {q.type}, "
                      f"{k.type}, {v.type}", q.shape)
        o = self.linear(self.merge_heads(a), w["wo"])
        x1 = self.add(x, o)
        h2 = self.rms_norm(x1, w["norm2"])
        f = (ffn_fn(h2) if ffn_fn else
             self.ffn(act, h2, w["w_in"], w["w_out"]))
        return self.add(x1, f)
