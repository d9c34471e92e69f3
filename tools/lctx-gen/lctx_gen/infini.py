# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Infini-Transformer (docs/conventions.md): a decoder whose attention
layers are Infini-attention (local causal attention within segments of N
tokens, a compressive memory per head read before and updated after each
segment, a per-head sigmoid gate), with prefill and decode entry points.

Entry points (all continue the runtime-owned stream):
  prefill(ids [B, T]) -> logits [B, T, V]          T = context, whole segments
  prefill_segment(ids [B, N]) -> logits [B, N, V]  one segment
  decode(ids [B, 1]) -> logits [B, 1, V]           one token, derived from
                                                   prefill by lctx-compile
                                                   (lctx-derive-decode)

States: `pos` (i64 [1], tokens seen), and per layer `layers.<i>.memory`
[B, H, Dh, Dh] and `layers.<i>.norm` [B, H, Dh] (f32: M and z), plus, for
decode, the current segment's caches `attention.<i>.k/k_rotated/v`
[B, H, N, Dh] that the derivation adds. The prefill
entries consume whole segments, so they start and end at a segment
boundary (pos a multiple of N), where the segment cache holds nothing that
a later step can see. Decode updates the memory only when a segment fills.
"""

from .ir import Func, Value, module_text


def _weights(f, c, pre, d):
    h = c["heads"]
    w = f.layer_weights(pre, d, c["ffn"])
    w["beta"] = f.weight(f"{pre}.attn.beta", [h])
    return w


def memory_states(f, b, heads, dh, pre):
    return (f.state(f"{pre}.memory", [b, heads, dh, dh]),
            f.state(f"{pre}.norm", [b, heads, dh]))


def _memory_states(f, c, i):
    h = c["heads"]
    return memory_states(f, c["batch"], h, c["dim"] // h, f"layers.{i}")


def layer(f, c, pre, x, mem, cache=None):
    """One pre-norm Infini layer (weights under `pre`, c: heads, ffn,
    segment, rule, activation, rope_theta); `cache = (k, k_rotated, v, p64,
    pidx)` for a decode step at segment position p (MEGABYTE's global
    decode with an Infini global model; Infini's own decode entry is derived
    by lctx-compile). Returns (x', (M', z'), (k', k_rotated', v') or None)."""
    w = _weights(f, c, pre, x.shape[-1])
    h = f.rms_norm(x, w["norm1"])
    q = f.split_heads(f.linear(h, w["wq"]), c["heads"])
    k = f.split_heads(f.linear(h, w["wk"]), c["heads"])
    v = f.split_heads(f.linear(h, w["wv"]), c["heads"])
    m, z = mem
    rope = f"rope_theta = {c['rope_theta']:.1f} : f32"
    new_cache = None
    if cache is None:
        a = f.emit(f"lctx.memory.attention {c['rule']} {q}, {k}, {v}, {m}, "
                   f"{z}, {w['beta']} {{segment_size = {c['segment']} : i64, "
                   f"{rope}}} : {q.type}, {k.type}, {v.type}, {m.type}, "
                   f"{z.type}, {w['beta'].type}", q.shape)
        # The op has three results: rename the first and bind the others.
        name = a.name
        f.lines[-1] = f.lines[-1].replace(f"{name} =", f"{name}:3 =", 1)
        a_out = Value(f"{name}#0", q.shape)
        m = Value(f"{name}#1", m.shape)
        z = Value(f"{name}#2", z.shape)
        a = a_out
    else:
        kc, krc, vc, p64, pidx = cache
        n = kc.shape[2]
        c0 = f.const_index(0)
        sizes = ", ".join(str(s) for s in k.shape)
        # Raw keys for the memory update (no positional encoding there) ...
        kc = f.emit(f"tensor.insert_slice {k} into {kc}[{c0}, {c0}, {pidx}, "
                    f"{c0}] [{sizes}] [1, 1, 1, 1] : {k.type} into {kc.type}",
                    kc.shape)
        # ... and rotated keys for the local attention.
        adot, krc, vc = f.cached_attention(q, k, v, krc, vc, p64, pidx,
                                           c["rope_theta"])
        new_cache = (kc, krc, vc)
        amem = f.emit(f"lctx.memory.retrieve {q}, {m}, {z} : {q.type}, "
                      f"{m.type}, {z.type}", q.shape)
        a = f.emit(f"lctx.memory.gate {amem}, {adot}, {w['beta']} : "
                   f"{amem.type}, {adot.type}, {w['beta'].type}", q.shape)
        # The segment is full after this token: fold it into the memory.
        last = f.emit(f"arith.cmpi eq, {p64}, {f.const_i64(n - 1)} : i64", [],
                      "i1", hint="b")
        res = f.fresh("mz")
        upd = f.fresh("u")
        f.lines += [
            f"{res}:2 = scf.if {last} -> ({m.type}, {z.type}) {{",
            f"  {upd}:2 = lctx.memory.update {c['rule']} {kc}, {vc}, {m}, {z}"
            f" : {kc.type}, {vc.type}, {m.type}, {z.type}",
            f"  scf.yield {upd}#0, {upd}#1 : {m.type}, {z.type}",
            "} else {",
            f"  scf.yield {m}, {z} : {m.type}, {z.type}",
            "}",
        ]
        m = Value(f"{res}#0", m.shape)
        z = Value(f"{res}#1", z.shape)
    o = f.linear(f.merge_heads(a), w["wo"])
    x1 = f.add(x, o)
    ff = f.ffn(c["activation"], f.rms_norm(x1, w["norm2"]), w["w_in"],
               w["w_out"])
    return f.add(x1, ff), (m, z), new_cache


def _prefill(c, name, length, decode=None):
    b, v, d = c["batch"], c["vocab"], c["dim"]
    f = Func(name, decode)
    ids = f.input("ids", [b, length], "i32")
    emb = f.weight("embed", [v, d])
    pos = f.state("pos", [1], "i64")
    x = f.embedding(emb, ids)
    mems = []
    for i in range(c["layers"]):
        m, z = _memory_states(f, c, i)
        x, (m, z), _ = layer(f, c, f"layers.{i}", x, (m, z))
        mems.append((m, z))
    x = f.rms_norm(x, f.weight("norm", [d]))
    f.output("logits", f.linear(x, emb, transpose=True))
    p64, _ = f.scalar_index(pos)
    f.state_out("pos", f.increment(pos, p64, length))
    for i, (m, z) in enumerate(mems):
        f.state_out(f"layers.{i}.memory", m)
        f.state_out(f"layers.{i}.norm", z)
    return f


def generate(c):
    header = (
        "// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception\n"
        f"// Generated by lctx-gen from an Infini-Transformer config "
        f"({c['name']}):\n"
        f"// V = {c['vocab']}, T = {c['context']}, segment N = "
        f"{c['segment']}, B = {c['batch']}, {c['layers']} layer(s) of width "
        f"{c['dim']},\n// {c['heads']} heads, ffn {c['ffn']}, memory update "
        f"rule '{c['rule']}'.\n// Entry points: prefill, prefill_segment, "
        "decode; see docs/models.md.\n\n")
    return module_text(header, {
        "arch": "infini", "decode": "token", "vocab": c["vocab"],
        "context": c["context"], "segment": c["segment"],
        "batch": c["batch"]},
        [_prefill(c, "prefill", c["context"], decode="decode"),
         _prefill(c, "prefill_segment", c["segment"])])
