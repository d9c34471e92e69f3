# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""MEGABYTE (paper semantics, docs/conventions.md): prefill and two-rate
decode entry points from one config.

Entry points:
  prefill(ids [B, T]) -> logits [B, T, V]
      the whole context at once (lctx.patch.embed / to_local / merge).
  decode_global(patch_ids [B, P]) -> ()
      once per patch, before its first byte: one step of the global model
      at patch position k over the global KV cache; patch_ids are the bytes
      of patch k - 1 (ignored for k = 0, which reads the trainable pad).
      Stores the patch's global output in state `global.out` and resets
      `local.pos`.
  decode_local(prev_id [B, 1]) -> logits [B, 1, V]
      once per byte: one step of the local model at slot p of the current
      patch over a local KV cache of P slots (slots > p are masked, so the
      cache needs no clearing); prev_id is the previous byte (ignored for
      p = 0, which reads the local pad).

States (runtime-owned): `global.pos`, `local.pos` (i64 [1]), `global.out`
[B, P * D_G], and per layer `global.layers.<i>.k/v` [B, H_G, T / P, Dh_G]
and `local.layers.<i>.k/v` [B, H_L, P, Dh_L].
"""

from . import infini
from .ir import Func, ty, module_text


def _global_weights(f, c):
    v, p, g = c["vocab"], c["patch"], c["global"]
    return (f.weight("global.embed", [v, g["width"]]),
            f.weight("global.pad", [p, g["width"]]))


def _local_weights(f, c):
    g, l = c["global"], c["local"]
    return (f.weight("global_to_local", [g["width"], l["width"]]),
            f.weight("local.embed", [c["vocab"], l["width"]]),
            f.weight("local.pad", [l["width"]]))


def _infini_config(c):
    """The global stack as an Infini stack (hybrid)."""
    g = c["global"]
    return {"heads": g["heads"], "ffn": g["ffn"], "segment": g["segment"],
            "rule": g["rule"], "activation": c["activation"],
            "rope_theta": c["rope_theta"], "batch": c["batch"]}


def _stack(f, x, c, which, caches=None, p=None):
    s = c[which]
    new = []
    if which == "global" and s.get("attention") == "infini":
        # Hybrid: the global model's layers are Infini-attention layers;
        # `caches[i]` = (memory, norm, k, k_rotated, v) in decode, (memory,
        # norm) in prefill.
        ic = _infini_config(c)
        for i in range(s["layers"]):
            pre = f"global.layers.{i}"
            mem = caches[i][:2]
            cache = (caches[i][2:] + p) if len(caches[i]) > 2 else None
            x, mem, kv = infini.layer(f, ic, pre, x, mem, cache)
            new.append(mem + (kv if kv else ()))
        return f.rms_norm(x, f.weight("global.norm", [x.shape[-1]])), new
    for i in range(s["layers"]):
        cache = None
        if caches is not None:
            cache = (caches[i][0], caches[i][1]) + p
        x, nc = f.layer(x, f"{which}.layers.{i}", s["heads"], s["ffn"],
                        c["activation"], c["rope_theta"], cache)
        new.append(nc)
    width = x.shape[-1]
    return f.rms_norm(x, f.weight(f"{which}.norm", [width])), new


def prefill(c):
    b, t, p, v = c["batch"], c["context"], c["patch"], c["vocab"]
    k = t // p
    f = Func("prefill")
    ids = f.input("ids", [b, t], "i32")
    g_emb, g_pad = _global_weights(f, c)
    g0 = f.emit(f"lctx.patch.embed {ids}, {g_emb}, {g_pad} {{patch_size = "
                f"{p} : i64}} : {ids.type}, {g_emb.type}, {g_pad.type}",
                [b, k, p * c["global"]["width"]])
    g = c["global"]
    infini_global = g.get("attention") == "infini"
    mems = None
    if infini_global:
        gh = g["heads"]
        mems = [infini.memory_states(f, b, gh, g["model_width"] // gh,
                                     f"global.layers.{i}")
                for i in range(g["layers"])]
    gout, new_mems = _stack(f, g0, c, "global", mems)
    w_gl, l_emb, l_pad = _local_weights(f, c)
    l0 = f.emit(f"lctx.patch.to_local {gout}, {w_gl}, {ids}, {l_emb}, "
                f"{l_pad} {{patch_size = {p} : i64}} : {gout.type}, "
                f"{w_gl.type}, {ids.type}, {l_emb.type}, {l_pad.type}",
                [b * k, p, c["local"]["width"]])
    lout, _ = _stack(f, l0, c, "local")
    logits = f.linear(lout, l_emb, transpose=True)
    out = f.emit(f"lctx.patch.merge {logits} : {logits.type} -> "
                 f"{ty([b, t, v])}", [b, t, v])
    f.output("logits", out)
    if infini_global:
        # The stream continues from here (whole segments of patches).
        gpos = f.state("global.pos", [1], "i64")
        p64, _ = f.scalar_index(gpos)
        f.state_out("global.pos", f.increment(gpos, p64, k))
        for i, (m, z) in enumerate(new_mems):
            f.state_out(f"global.layers.{i}.memory", m)
            f.state_out(f"global.layers.{i}.norm", z)
    return f


def _caches(f, c, which, slots):
    s = c[which]
    width = s["model_width"] if which == "global" else s["width"]
    shape = [c["batch"], s["heads"], slots, width // s["heads"]]
    return [(f.state(f"{which}.layers.{i}.k", shape),
             f.state(f"{which}.layers.{i}.v", shape))
            for i in range(s["layers"])]


def _state_outs(f, c, which, caches):
    for i, (kc, vc) in enumerate(caches):
        f.state_out(f"{which}.layers.{i}.k", kc)
        f.state_out(f"{which}.layers.{i}.v", vc)


def decode_global(c):
    b, p, t = c["batch"], c["patch"], c["context"]
    dg = c["global"]["width"]
    f = Func("decode_global")
    ids = f.input("patch_ids", [b, p], "i32")
    g_emb, g_pad = _global_weights(f, c)
    gpos = f.state("global.pos", [1], "i64")
    g = c["global"]
    infini_global = g.get("attention") == "infini"
    if infini_global:
        gh = g["heads"]
        dh = g["model_width"] // gh
        seg = [b, gh, g["segment"], dh]
        caches = [infini.memory_states(f, b, gh, dh, f"global.layers.{i}")
                  + tuple(f.state(f"global.layers.{i}.{n}", seg)
                          for n in ("k", "k_rotated", "v"))
                  for i in range(g["layers"])]
    else:
        caches = _caches(f, c, "global", t // p)
    f.state("global.out", [b, p * dg])
    lpos = f.state("local.pos", [1], "i64")
    p64, pidx = f.scalar_index(gpos)
    if infini_global:
        # Positions inside the current segment of patches.
        k64 = p64
        p64 = f.emit(f"arith.remsi {k64}, {f.const_i64(g['segment'])} : i64",
                     [], "i64", hint="p")
        pidx = f.emit(f"arith.index_cast {p64} : i64 to index", [], "index",
                      hint="p")
    # The patch's input: the concatenated embeddings of the previous patch,
    # or the pad patch at k = 0.
    e = f.collapse(f.embedding(g_emb, ids), [[0], [1, 2]])
    e = f.expand(e, [[0], [1, 2]], [b, 1, p * dg])
    flat = f.collapse(g_pad, [[0, 1]])
    if b == 1:
        pad = f.expand(flat, [[0, 1, 2]], [1, 1, p * dg])
    else:
        init = f.emit(f"tensor.empty() : {ty([b, 1, p * dg])}", [b, 1, p * dg])
        pad = f.emit(f"linalg.broadcast ins({flat} : {flat.type}) "
                     f"outs({init} : {init.type}) dimensions = [0, 1]",
                     [b, 1, p * dg])
    first = f.is_zero(k64 if infini_global else p64)
    x = f.select(first, pad, e)
    gout, new = _stack(f, x, c, "global", caches, (p64, pidx))
    f.state_out("global.pos", f.increment(gpos, k64 if infini_global else p64))
    if infini_global:
        for i, (m, z, kc, krc, vc) in enumerate(new):
            f.state_out(f"global.layers.{i}.memory", m)
            f.state_out(f"global.layers.{i}.norm", z)
            f.state_out(f"global.layers.{i}.k", kc)
            f.state_out(f"global.layers.{i}.k_rotated", krc)
            f.state_out(f"global.layers.{i}.v", vc)
    else:
        _state_outs(f, c, "global", new)
    f.state_out("global.out", f.collapse(gout, [[0], [1, 2]]))
    f.state_out("local.pos", f.zeros_i64([1]))
    # `local.pos` is read only to satisfy the state pairing.
    del lpos
    return f


def decode_local(c):
    b, p, v = c["batch"], c["patch"], c["vocab"]
    dg, dl = c["global"]["width"], c["local"]["width"]
    f = Func("decode_local")
    prev = f.input("prev_id", [b, 1], "i32")
    w_gl, l_emb, l_pad = _local_weights(f, c)
    lpos = f.state("local.pos", [1], "i64")
    gout = f.state("global.out", [b, p * dg])
    caches = _caches(f, c, "local", p)
    p64, pidx = f.scalar_index(lpos)
    # Slot p of the patch's global output, projected, plus the previous
    # byte's local embedding (the local pad at p = 0).
    off = f.emit(f"arith.muli {pidx}, {f.const_index(dg)} : index", [],
                 "index", hint="o")
    c0 = f.const_index(0)
    slot = f.emit(f"tensor.extract_slice {gout}[{c0}, {off}] [{b}, {dg}] "
                  f"[1, 1] : {gout.type} to {ty([b, dg])}", [b, dg])
    slot = f.expand(slot, [[0], [1, 2]], [b, 1, dg])
    proj = f.linear(slot, w_gl)
    e = f.embedding(l_emb, prev)
    if b == 1:
        pad = f.expand(l_pad, [[0, 1, 2]], [1, 1, dl])
    else:
        init = f.emit(f"tensor.empty() : {ty([b, 1, dl])}", [b, 1, dl])
        pad = f.emit(f"linalg.broadcast ins({l_pad} : {l_pad.type}) "
                     f"outs({init} : {init.type}) dimensions = [0, 1]",
                     [b, 1, dl])
    x = f.add(proj, f.select(f.is_zero(p64), pad, e))
    lout, new = _stack(f, x, c, "local", caches, (p64, pidx))
    logits = f.linear(lout, l_emb, transpose=True)
    f.output("logits", logits)
    f.state_out("local.pos", f.increment(lpos, p64))
    f.state_out("global.out", gout)
    _state_outs(f, c, "local", new)
    assert logits.shape == [b, 1, v]
    return f


def generate(c):
    header = (
        "// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception\n"
        f"// Generated by lctx-gen from a MEGABYTE config ({c['name']}):\n"
        f"// V = {c['vocab']}, P = {c['patch']}, T = {c['context']}, "
        f"B = {c['batch']};\n"
        f"// global: {c['global']['layers']} layer(s) of width "
        f"{c['global']['model_width']} (P x {c['global']['width']}), "
        f"{c['global']['heads']} heads, ffn {c['global']['ffn']};\n"
        f"// local: {c['local']['layers']} layer(s) of width "
        f"{c['local']['width']}, {c['local']['heads']} heads, ffn "
        f"{c['local']['ffn']}.\n// Entry points: prefill, decode_global "
        "(once per patch), decode_local (once per\n// byte); see "
        "docs/models.md.\n\n")
    return module_text(header, {
        "arch": "megabyte", "decode": "two-rate", "vocab": c["vocab"],
        "patch": c["patch"], "context": c["context"], "batch": c["batch"]},
        [prefill(c), decode_global(c), decode_local(c)])
