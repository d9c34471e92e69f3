#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Trains lctx's shipped default model (models/megabyte/default.json) with
the PyTorch MEGABYTE reference and writes its weights as safetensors.

The corpus is text written for lctx itself, so it is available offline and
free to ship: every tracked Markdown file, the op and pass descriptions in
the .td files, and the comment lines of the C++ sources, in sorted path
order. 5% (the last bytes) is held out and scored at the end, in bits per
byte, over windows of the model's context (as `lctx-run --score` does).

  scripts/train-default.py [--steps N] [--threads N] [--out FILE]

Defaults reproduce the shipped weights (seeded; a few minutes on 2 cores).
Progress (step, loss in bits per byte, bytes/s) goes to stderr.
"""
import argparse
import array
import json
import math
import os
import re
import subprocess
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "reference", "torch"))
import megabyte  # noqa: E402


def corpus():
    files = subprocess.run(["git", "-C", ROOT, "ls-files"], check=True,
                           capture_output=True, text=True).stdout.split()
    parts = []
    for path in sorted(files):
        full = os.path.join(ROOT, path)
        if path.startswith("models/") or not os.path.isfile(full):
            continue
        if path.endswith((".md", ".td")):
            parts.append(open(full, encoding="utf-8", errors="replace").read())
        elif path.endswith((".cpp", ".cc", ".h", ".hpp", ".c")):
            lines = [re.sub(r"^\s*//[/!]?\s?", "", l)
                     for l in open(full, encoding="utf-8", errors="replace")
                     if re.match(r"^\s*//", l) and not l.strip().startswith(
                         "//===")]
            parts.append("\n".join(lines))
    text = "\n\n".join(p for p in parts if p.strip())
    return torch.tensor(list(text.encode("utf-8")), dtype=torch.long)


def init_weights(c, gen):
    g, l, p, v = c["global"], c["local"], c["patch"], c.get("vocab", 256)
    dg, wg, dl = g["dim_per_byte"], g["dim_per_byte"] * p, l["dim"]
    w = {}

    def normal(*shape, std=0.02):
        return torch.randn(*shape, generator=gen) * std

    w["global.embed"] = normal(v, dg, std=1.0 / math.sqrt(dg))
    w["global.pad"] = normal(p, dg)
    for name, width, stack in (("global", wg, g), ("local", dl, l)):
        for i in range(stack["layers"]):
            pre = f"{name}.layers.{i}"
            w[f"{pre}.norm1"] = torch.ones(width)
            w[f"{pre}.norm2"] = torch.ones(width)
            for m in ("wq", "wk", "wv"):
                w[f"{pre}.attn.{m}"] = normal(width, width)
            # Residual branches start small.
            scale = 0.02 / math.sqrt(2 * stack["layers"])
            w[f"{pre}.attn.wo"] = normal(width, width, std=scale)
            w[f"{pre}.ffn.w_in"] = normal(width, stack["ffn"])
            w[f"{pre}.ffn.w_out"] = normal(stack["ffn"], width, std=scale)
        w[f"{name}.norm"] = torch.ones(width)
    w["global_to_local"] = normal(dg, dl, std=1.0 / math.sqrt(dg))
    w["local.embed"] = normal(v, dl, std=1.0 / math.sqrt(dl))
    w["local.pad"] = normal(dl)
    for t in w.values():
        t.requires_grad_(True)
    return w


def bits_per_byte(w, data, c, batch):
    t = c["context"]
    n = (len(data) // t) * t
    windows = data[:n].view(-1, t)
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(windows), batch):
            x = windows[i:i + batch]
            logits = megabyte.forward(w, x, c, dtype=torch.float32)
            total += torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), x.reshape(-1),
                reduction="sum").item()
            count += x.numel()
    return total / count / math.log(2)


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        blob = array.array("f", t.flatten().tolist()).tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + b"".join(blobs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config",
                    default=os.path.join(ROOT, "models/megabyte/default.json"))
    ap.add_argument("--out", default=os.path.join(
        ROOT, "models/megabyte/default.safetensors"))
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    c = json.load(open(args.config))
    data = corpus()
    split = int(len(data) * 0.95)
    train, held = data[:split], data[split:]
    t = c["context"]
    gen = torch.Generator().manual_seed(args.seed)
    w = init_weights(c, gen)
    opt = torch.optim.AdamW(list(w.values()), lr=args.lr, betas=(0.9, 0.98),
                            weight_decay=0.01)
    print(f"train-default: corpus {len(data)} bytes ({len(train)} train, "
          f"{len(held)} held out), {sum(x.numel() for x in w.values())} "
          "parameters", file=sys.stderr)
    start = time.time()
    for step in range(1, args.steps + 1):
        lr = args.lr * min(1.0, step / 100) * 0.5 * (
            1 + math.cos(math.pi * step / args.steps))
        for group in opt.param_groups:
            group["lr"] = lr
        idx = torch.randint(0, len(train) - t, (args.batch,), generator=gen)
        x = torch.stack([train[i:i + t] for i in idx.tolist()])
        logits = megabyte.forward(w, x, c, dtype=torch.float32)
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), x.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(w.values()), 1.0)
        opt.step()
        if step % 50 == 0 or step == args.steps:
            el = time.time() - start
            print(f"train-default: step {step}/{args.steps}, loss "
                  f"{loss.item() / math.log(2):.3f} bits/byte, "
                  f"{step * args.batch * t / el:.0f} bytes/s",
                  file=sys.stderr)
    bpb = bits_per_byte(w, held, c, args.batch)
    print(f"train-default: held-out {bpb:.3f} bits per byte", file=sys.stderr)
    write_safetensors(args.out, w, {
        "model": os.path.basename(args.config),
        "steps": str(args.steps), "seed": str(args.seed),
        "heldout_bits_per_byte": f"{bpb:.4f}"})
    print(f"train-default: wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
