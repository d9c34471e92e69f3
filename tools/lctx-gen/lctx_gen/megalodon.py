# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Megalodon decoder (docs/conventions.md): per layer, TimestepNorm, CEMA,
normalized chunk-wise attention and a SwiGLU FFN with the two-hop residual:

    xt = TSN(x);  mx = RMSNorm(CEMA(xt))
    z  = per-head RMSNorm(W_z mx + b_z)
    q  = z (gamma_q + 1) / sqrt(d_z) + beta_q,  k likewise
    v  = SiLU(W_v xt + b_v),  r = SiLU(W_r mx + b_r)
    o  = chunked causal attention(q, k, v), scale 1, RoPE restarting per chunk
    h  = W_h1 mx + b_h + W_h2 (o * r)
    y  = x + FFN_swiglu(LayerNorm(x + h))
and a final TimestepNorm before the (tied) output projection.

Entry points (all continue the runtime-owned stream):
  prefill(ids [B, T]) -> logits      T = context, whole chunks
  prefill_chunk(ids [B, c]) -> logits
  decode(ids [B, 1]) -> logits       derived from prefill by lctx-compile
States: `pos`; per layer the TimestepNorm statistics
`layers.<i>.tsn.count/mean/var`, the CEMA state `layers.<i>.cema.h`
[B, D, N] (complex<f32>) and, for decode, the current chunk's caches
`attention.<i>.k/v` that the derivation adds; the output TimestepNorm's
`out.tsn.*`. All constant in the stream length.
"""

import math

from .ir import Func, Value, module_text


def _tsn(f, c, prefix, x, state):
    b, _, d = x.shape
    g = c["groups"]
    w = f.weight(f"{prefix}.w", [d])
    bias = f.weight(f"{prefix}.b", [d])
    count, mean, var = state
    y = f.emit(f"lctx.cema.timestep_norm {x}, {w}, {bias}, {count}, {mean}, "
               f"{var} {{num_groups = {g} : i64}} : {x.type}, {w.type}, "
               f"{bias.type}, {count.type}, {mean.type}, {var.type}", x.shape)
    f.lines[-1] = f.lines[-1].replace(f"{y.name} =", f"{y.name}:4 =", 1)
    return (Value(f"{y.name}#0", x.shape),
            (Value(f"{y.name}#1", count.shape, "i64"),
             Value(f"{y.name}#2", mean.shape),
             Value(f"{y.name}#3", var.shape)))


def _tsn_states(f, c, prefix):
    b, g = c["batch"], c["groups"]
    return (f.state(f"{prefix}.count", [b], "i64"),
            f.state(f"{prefix}.mean", [b, g]),
            f.state(f"{prefix}.var", [b, g]))


def _affine_qk(f, z, gamma, beta, dzh):
    """z (gamma + 1) / sqrt(d_z) + beta over the last dim."""
    inv = 1.0 / math.sqrt(dzh)
    return f.generic(z.shape, [(z, [0, 1, 2]), (gamma, [2]), (beta, [2])], [
        "%one = arith.constant 1.0 : f32",
        f"%inv = arith.constant {inv!r} : f32",
        "%g1 = arith.addf %in1, %one : f32",
        "%gs = arith.mulf %g1, %inv : f32",
        "%zs = arith.mulf %in0, %gs : f32",
        "%r = arith.addf %zs, %in2 : f32",
        "linalg.yield %r : f32"])


def _layer(f, c, i, x, tsn_state, h0):
    b, t, d = x.shape
    hds, dz, dv, n = c["heads"], c["z_dim"], c["v_dim"], c["cema_ndim"]
    pre = f"layers.{i}"
    xt, tsn_new = _tsn(f, c, f"{pre}.tsn", x, tsn_state)
    cw = {name: f.weight(f"{pre}.cema.{name}", shape, elt) for name, shape,
          elt in (("alpha", [d, n], "f32"), ("delta", [d, n], "f32"),
                  ("theta", [d], "f32"), ("gamma", [d, n], "complex<f32>"),
                  ("omega", [d], "f32"))}
    y = f.emit(f"lctx.cema.scan {xt}, {cw['alpha']}, {cw['delta']}, "
               f"{cw['theta']}, {cw['gamma']}, {cw['omega']}, {h0} : "
               f"{xt.type}, {cw['alpha'].type}, {cw['delta'].type}, "
               f"{cw['theta'].type}, {cw['gamma'].type}, {cw['omega'].type}, "
               f"{h0.type}", x.shape)
    f.lines[-1] = f.lines[-1].replace(f"{y.name} =", f"{y.name}:2 =", 1)
    h_new = Value(f"{y.name}#1", h0.shape, h0.elt)
    mx = f.rms_norm(Value(f"{y.name}#0", x.shape),
                    f.weight(f"{pre}.cema_norm", [d]))
    z = f.linear_bias(mx, f.weight(f"{pre}.attn.wz", [d, dz]),
                      f.weight(f"{pre}.attn.bz", [dz]))
    z4 = f.expand(z, [[0], [1], [2, 3]], [b, t, hds, dz // hds])
    z = f.collapse(f.emit(f"lctx.rms_norm {z4} : {z4.type}", z4.shape),
                   [[0], [1], [2, 3]])
    q = _affine_qk(f, z, f.weight(f"{pre}.attn.gamma_q", [dz]),
                   f.weight(f"{pre}.attn.beta_q", [dz]), dz // hds)
    k = _affine_qk(f, z, f.weight(f"{pre}.attn.gamma_k", [dz]),
                   f.weight(f"{pre}.attn.beta_k", [dz]), dz // hds)
    v = f.silu(f.linear_bias(xt, f.weight(f"{pre}.attn.wv", [d, dv]),
                             f.weight(f"{pre}.attn.bv", [dv])))
    r = f.silu(f.linear_bias(mx, f.weight(f"{pre}.attn.wr", [d, dv]),
                             f.weight(f"{pre}.attn.br", [dv])))
    qh, kh, vh = (f.split_heads(y_, hds) for y_ in (q, k, v))
    rope = f"rope_theta = {c['rope_theta']:.1f} : f32"
    o = f.emit(f"lctx.attention {qh}, {kh}, {vh} {{chunk_size = "
               f"{c['chunk']} : i64, scale = 1.0 : f32, {rope}}} : "
               f"{qh.type}, {kh.type}, {vh.type}", [b, hds, t, dv // hds])
    o = f.merge_heads(o)
    hh = f.add(f.linear_bias(mx, f.weight(f"{pre}.attn.wh1", [d, d]),
                             f.weight(f"{pre}.attn.bh", [d])),
               f.linear(f.mul(o, r), f.weight(f"{pre}.attn.wh2", [dv, d])))
    yhat = f.add(x, hh)
    lnw = f.weight(f"{pre}.ffn_norm.w", [d])
    lnb = f.weight(f"{pre}.ffn_norm.b", [d])
    ln = f.emit(f"lctx.layer_norm {yhat} weight({lnw} : {lnw.type}) "
                f"bias({lnb} : {lnb.type}) : {yhat.type}", yhat.shape)
    w_in = f.weight(f"{pre}.ffn.w_in", [d, c["ffn"]])
    w_out = f.weight(f"{pre}.ffn.w_out", [c["ffn"], d])
    w_gate = f.weight(f"{pre}.ffn.w_gate", [d, c["ffn"]])
    ff = f.emit(f"lctx.ffn swiglu {ln}, {w_in}, {w_out}, {w_gate} : "
                f"{ln.type}, {w_in.type}, {w_out.type}, {w_gate.type}",
                x.shape)
    # Two-hop residual: the FFN's residual is x, not x + h.
    return f.add(x, ff), tsn_new, h_new


def _states(f, c, i):
    b, d, n = c["batch"], c["dim"], c["cema_ndim"]
    tsn = _tsn_states(f, c, f"layers.{i}.tsn")
    h = f.state(f"layers.{i}.cema.h", [b, d, n], "complex<f32>")
    return tsn, h


def _outputs(f, c, news, out_tsn):
    for i, (tsn, h) in enumerate(news):
        for name, val in zip(("count", "mean", "var"), tsn):
            f.state_out(f"layers.{i}.tsn.{name}", val)
        f.state_out(f"layers.{i}.cema.h", h)
    for name, val in zip(("count", "mean", "var"), out_tsn):
        f.state_out(f"out.tsn.{name}", val)


def _prefill(c, name, length, decode=None):
    b, v, d = c["batch"], c["vocab"], c["dim"]
    f = Func(name, decode)
    ids = f.input("ids", [b, length], "i32")
    emb = f.weight("embed", [v, d])
    pos = f.state("pos", [1], "i64")
    x = f.embedding(emb, ids)
    news = []
    for i in range(c["layers"]):
        tsn, h = _states(f, c, i)
        x, tsn, h = _layer(f, c, i, x, tsn, h)
        news.append((tsn, h))
    x, out_tsn = _tsn(f, c, "out.tsn", x, _tsn_states(f, c, "out.tsn"))
    f.output("logits", f.linear(x, emb, transpose=True))
    p64, _ = f.scalar_index(pos)
    f.state_out("pos", f.increment(pos, p64, length))
    _outputs(f, c, news, out_tsn)
    return f


def generate(c):
    header = (
        "// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception\n"
        f"// Generated by lctx-gen from a Megalodon config ({c['name']}):\n"
        f"// V = {c['vocab']}, T = {c['context']}, chunk {c['chunk']}, B = "
        f"{c['batch']}, {c['layers']} layer(s) of width {c['dim']}, "
        f"{c['heads']} heads,\n// z {c['z_dim']}, v {c['v_dim']}, CEMA order "
        f"{c['cema_ndim']}, {c['groups']} TimestepNorm groups, SwiGLU "
        f"{c['ffn']}.\n// Entry points: prefill, prefill_chunk, decode; see "
        "docs/models.md.\n\n")
    return module_text(header, {
        "arch": "megalodon", "decode": "token", "vocab": c["vocab"],
        "context": c["context"], "chunk": c["chunk"], "batch": c["batch"]},
        [_prefill(c, "prefill", c["context"], decode="decode"),
         _prefill(c, "prefill_chunk", c["chunk"])])
