# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Mixture-of-Depths decoder (docs/conventions.md): pre-norm layers, every
other one (layers 1, 3, ...) routed. A routed layer runs its whole block f
(f(x) = a + m with a = Attn(RMSNorm(x)), m = FFN(RMSNorm(x + a))) only on
the tokens its router selects, attending among them at their original
positions, and a routed token becomes x + r * f(x) (r: the raw router
logit); the other tokens pass unchanged and write no K/V.

Hybrid: with `experts` in the config, every FFN (of the plain layers and
inside the routed blocks) is a Switch top-1 mixture of experts (dropless in
decode, and in prefill when `dropless`).

Entry points:
  prefill(ids [B, T]) -> logits [B, T, V]
      routing `causal` (sigmoid(r) > 0.5, what decode does) or `topk`
      (k = floor(capacity * T) per row, the training form).
  decode(ids [B, 1]) -> logits [B, 1, V]
      causal routing; a routed layer's KV cache holds routed tokens only:
      its slot t keeps key position t + 1 when token t was routed and 0 when
      not (state `layers.<i>.kpos`, zero-initialized = empty), so bypassed
      tokens are never attended to.
States: `pos`, per layer `layers.<i>.k/v` [B, H, T, Dh], and per routed
layer `layers.<i>.kpos` [B, T] (i64).
"""

import math

from .ir import Func, Value, ty, module_text
from .switch import _moe_fn as switch_ffn


def topk_count(s, capacity):
    """k = floor(capacity * S) with lctx's relative tolerance of 1e-9."""
    product = s * capacity
    return min(max(math.floor(product + 1e-9 * max(1.0, product)), 0), s)


def _routed_block(f, c, i, x, cache=None):
    """x + r * f(x) on the routed tokens of x : [B, S, D]."""
    b, s, d = x.shape
    pre = f"layers.{i}"
    hybrid = "experts" in c
    w = f.layer_weights(pre, d, c["ffn"], dense_ffn=not hybrid)
    router = f.weight(f"{pre}.router", [d])
    mode = "causal" if cache is not None else c["routing"]
    attrs = (f" {{capacity = {c['capacity']} : f64}}" if mode == "topk"
             else "")
    r = f.emit(f"lctx.route.depth {mode} {x}, {router}{attrs} : {x.type}, "
               f"{router.type}", [b, s], "i64")
    f.lines[-1] = f.lines[-1].replace(f"{r.name} =", f"{r.name}:2 =", 1)
    k = topk_count(s, c["capacity"]) if mode == "topk" else s
    idx = Value(f"{r.name}#0", [b, k], "i64")
    wts = Value(f"{r.name}#1", [b, k], "f32")
    sel = f.emit(f"lctx.route.gather {x}, {idx} : {x.type}, {idx.type}",
                 [b, k, d])
    h = f.rms_norm(sel, w["norm1"])
    q = f.split_heads(f.linear(h, w["wq"]), c["heads"])
    kk = f.split_heads(f.linear(h, w["wk"]), c["heads"])
    v = f.split_heads(f.linear(h, w["wv"]), c["heads"])
    rope = f"{{rope_theta = {c['rope_theta']:.1f} : f32}}"
    new = None
    if cache is None:
        # Causal among the selected tokens at their original positions;
        # padding (-1) keys are masked and padding queries see nothing.
        a = f.emit(f"lctx.attention {q}, {kk}, {v} positions({idx}, {idx}) "
                   f"{rope} : {q.type}, {kk.type}, {v.type}, {idx.type}, "
                   f"{idx.type}", q.shape)
    else:
        kc, vc, kpos, p64, pidx = cache
        t = kc.shape[2]
        c0 = f.const_index(0)
        sizes = ", ".join(str(n) for n in kk.shape)
        # This token's slot: pos + 1 when routed (idx = 0), else 0.
        slot = Value(f.fresh("slot"), [b, 1], "i64")
        init = f.emit(f"tensor.empty() : {ty([b, 1], 'i64')}", [b, 1], "i64")
        one = f.const_i64(1)
        zero = f.const_i64(0)
        f.lines += [
            f"{slot} = linalg.generic {{indexing_maps = [affine_map<(d0, d1) "
            f"-> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], "
            f"iterator_types = [\"parallel\", \"parallel\"]}} ins({idx} : "
            f"{idx.type}) outs({init} : {init.type}) {{",
            "  ^bb0(%r: i64, %out: i64):",
            f"    %routed = arith.cmpi sge, %r, {zero} : i64",
            f"    %p1 = arith.addi {p64}, {one} : i64",
            f"    %s = arith.select %routed, %p1, {zero} : i64",
            "    linalg.yield %s : i64",
            f"  }} -> {init.type}",
        ]
        kpos = f.emit(f"tensor.insert_slice {slot} into {kpos}[{c0}, {pidx}] "
                      f"[{b}, 1] [1, 1] : {slot.type} into {kpos.type}",
                      kpos.shape, "i64")
        kp = Value(f.fresh("kp"), [b, t], "i64")
        kinit = f.emit(f"tensor.empty() : {ty([b, t], 'i64')}", [b, t], "i64")
        f.lines += [
            f"{kp} = linalg.generic {{indexing_maps = [affine_map<(d0, d1) "
            f"-> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], "
            f"iterator_types = [\"parallel\", \"parallel\"]}} ins({kpos} : "
            f"{kpos.type}) outs({kinit} : {kinit.type}) {{",
            "  ^bb0(%k1: i64, %out: i64):",
            f"    %kj = arith.subi %k1, {one} : i64",
            "    linalg.yield %kj : i64",
            f"  }} -> {kinit.type}",
        ]
        # RoPE once at the token's position (the cache keeps rotated keys);
        # only routed tokens' slots are visible.
        a, kc, vc = f.cached_attention(q, kk, v, kc, vc, p64, pidx,
                                       c["rope_theta"], key_positions=kp)
        new = (kc, vc, kpos)
    a = f.linear(f.merge_heads(a), w["wo"])
    h2 = f.rms_norm(f.add(sel, a), w["norm2"])
    if hybrid:
        m = switch_ffn(f, c, i, dropless=cache is not None or c["dropless"])(h2)
    else:
        m = f.ffn(c["activation"], h2, w["w_in"], w["w_out"])
    fx = f.add(a, m)
    y = f.emit(f"lctx.route.scatter_add {x}, {fx}, {idx}, {wts} : {x.type}, "
               f"{fx.type}, {idx.type}, {wts.type}", x.shape)
    return y, new


def _stack(f, c, x, caches=None, p=None):
    new = []
    for i in range(c["layers"]):
        if i % 2 == 1:
            cache = None if caches is None else caches[i] + p
            x, nc = _routed_block(f, c, i, x, cache)
        else:
            cache = None if caches is None else caches[i][:2] + p
            ffn_fn = None
            if "experts" in c:
                ffn_fn = switch_ffn(f, c, i,
                                    dropless=caches is not None
                                    or c["dropless"])
            x, nc = f.layer(x, f"layers.{i}", c["heads"], c["ffn"],
                            c["activation"], c["rope_theta"], cache, ffn_fn)
        new.append(nc)
    return f.rms_norm(x, f.weight("norm", [c["dim"]])), new


def prefill(c):
    b, t, v, d = c["batch"], c["context"], c["vocab"], c["dim"]
    f = Func("prefill")
    ids = f.input("ids", [b, t], "i32")
    emb = f.weight("embed", [v, d])
    x, _ = _stack(f, c, f.embedding(emb, ids))
    f.output("logits", f.linear(x, emb, transpose=True))
    return f


def decode(c):
    b, t, v, d, h = c["batch"], c["context"], c["vocab"], c["dim"], c["heads"]
    f = Func("decode")
    ids = f.input("ids", [b, 1], "i32")
    emb = f.weight("embed", [v, d])
    pos = f.state("pos", [1], "i64")
    caches = []
    for i in range(c["layers"]):
        kv = (f.state(f"layers.{i}.k", [b, h, t, d // h]),
              f.state(f"layers.{i}.v", [b, h, t, d // h]))
        if i % 2 == 1:
            kv += (f.state(f"layers.{i}.kpos", [b, t], "i64"),)
        caches.append(kv)
    p64, pidx = f.scalar_index(pos)
    x, new = _stack(f, c, f.embedding(emb, ids), caches, (p64, pidx))
    f.output("logits", f.linear(x, emb, transpose=True))
    f.state_out("pos", f.increment(pos, p64))
    for i, nc in enumerate(new):
        f.state_out(f"layers.{i}.k", nc[0])
        f.state_out(f"layers.{i}.v", nc[1])
        if i % 2 == 1:
            f.state_out(f"layers.{i}.kpos", nc[2])
    return f


def generate(c):
    header = (
        "// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception\n"
        f"// Generated by lctx-gen from a Mixture-of-Depths config "
        f"({c['name']}):\n"
        f"// V = {c['vocab']}, T = {c['context']}, B = {c['batch']}, "
        f"{c['layers']} layer(s) of width {c['dim']}, {c['heads']} heads, ffn "
        f"{c['ffn']};\n// layers 1, 3, ... routed; prefill routing "
        f"'{c['routing']}', decode causal. Entry points: prefill, decode;\n"
        "// see docs/models.md.\n\n")
    return module_text(header, {
        "arch": "mod", "decode": "token", "vocab": c["vocab"],
        "context": c["context"], "window": c["context"],
        "batch": c["batch"]},
        [prefill(c), decode(c)])
