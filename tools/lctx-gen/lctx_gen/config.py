# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Validation of model configs: every key checked, errors name the key."""


class ConfigError(Exception):
    pass


def _int(section, key, where, minimum=1, default=None):
    if key not in section:
        if default is not None:
            return default
        raise ConfigError(f"{where}missing key '{key}'")
    value = section[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}'{key}' is {value!r}, expected an integer")
    if value < minimum:
        raise ConfigError(f"{where}'{key}' is {value}, expected >= {minimum}")
    return value


def _float(section, key, where, default):
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}'{key}' is {value!r}, expected a number")
    if value <= 0:
        raise ConfigError(f"{where}'{key}' is {value}, expected > 0")
    return float(value)


def _choice(section, key, where, choices, default):
    value = section.get(key, default)
    if value not in choices:
        raise ConfigError(f"{where}'{key}' is {value!r}, expected one of "
                          + ", ".join(repr(c) for c in choices))
    return value


def _object(section, key, where):
    value = section.get(key)
    if not isinstance(value, dict):
        raise ConfigError(f"{where}'{key}' is {value!r}, expected an object")
    return value


def _check_keys(section, allowed, where):
    for key in section:
        if key not in allowed:
            raise ConfigError(f"{where}unknown key '{key}' (known: "
                              + ", ".join(sorted(allowed)) + ")")


def _stack(section, where, width_key, hybrid=False):
    """A transformer stack: width, layers, heads, ffn width; with `hybrid`,
    optionally Infini-attention layers (attention, segment, rule)."""
    keys = {width_key, "layers", "heads", "ffn"}
    if hybrid:
        keys |= {"attention", "segment", "rule"}
    _check_keys(section, keys, where)
    stack = {
        "width": _int(section, width_key, where),
        "layers": _int(section, "layers", where),
        "heads": _int(section, "heads", where),
        "ffn": _int(section, "ffn", where),
    }
    if hybrid:
        stack["attention"] = _choice(section, "attention", where,
                                     ["full", "infini"], "full")
        if stack["attention"] == "infini":
            stack["segment"] = _int(section, "segment", where)
            stack["rule"] = _choice(section, "rule", where,
                                    ["linear", "delta"], "linear")
        elif "segment" in section or "rule" in section:
            raise ConfigError(f"{where}'segment' and 'rule' need "
                              "\"attention\": \"infini\"")
    return stack


def _head_width(width, heads, where):
    if width % heads:
        raise ConfigError(f"{where}the model width ({width}) must be a "
                          f"multiple of 'heads' ({heads})")
    if (width // heads) % 2:
        raise ConfigError(f"{where}the head width ({width // heads}) must be "
                          "even (RoPE rotates pairs)")


DECODER_KEYS = {"arch", "name", "comment", "vocab", "context", "batch", "dim",
                "layers", "heads", "ffn", "activation", "rope_theta"}


def _decoder(raw, arch, extra_keys, head_check=True):
    """The keys every token decoder has (checked), and the unknown-key
    check against them plus `extra_keys`."""
    _check_keys(raw, DECODER_KEYS | set(extra_keys), "")
    c = {
        "arch": arch,
        "name": raw.get("name", arch),
        "vocab": _int(raw, "vocab", "", default=256),
        "context": _int(raw, "context", ""),
        "batch": _int(raw, "batch", "", default=1),
        "dim": _int(raw, "dim", ""),
        "layers": _int(raw, "layers", ""),
        "heads": _int(raw, "heads", ""),
        "ffn": _int(raw, "ffn", ""),
        "activation": _choice(raw, "activation", "", ["relu", "gelu"],
                              "relu"),
        "rope_theta": _float(raw, "rope_theta", "", 10000.0),
    }
    if head_check:
        _head_width(c["dim"], c["heads"], "")
    return c


def _bool(raw, key, default):
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"'{key}' is {value!r}, expected true or false")
    return value


def _experts(raw, c):
    c["experts"] = _int(raw, "experts", "")
    c["expert_ffn"] = _int(raw, "expert_ffn", "")
    c["capacity_factor"] = _float(raw, "capacity_factor", "", 1.25)
    c["dropless"] = _bool(raw, "dropless", False)


def load_infini(raw):
    c = _decoder(raw, "infini", {"segment", "rule"})
    c["segment"] = _int(raw, "segment", "")
    c["rule"] = _choice(raw, "rule", "", ["linear", "delta"], "linear")
    if c["context"] % c["segment"]:
        raise ConfigError(f"'context' ({c['context']}) must be a multiple of "
                          f"'segment' ({c['segment']}): prefill consumes "
                          "whole segments (decode takes any number of tokens)")
    return c


def _extend(raw, c, unit=1):
    """`extend`: tokens the `extend` entry consumes per call (0: no such
    entry); by default half the context, at most 64 tokens (whole units of
    `unit` tokens: MEGABYTE's patches)."""
    units = c["context"] // unit
    default = unit * max(1, min(64 // unit, units // 2))
    c["extend"] = _int(raw, "extend", "", default=default, minimum=0)
    if c["extend"] > c["context"]:
        raise ConfigError(f"'extend' ({c['extend']}) exceeds 'context' "
                          f"({c['context']}): the decode caches hold the "
                          "context")
    if c["extend"] % unit:
        raise ConfigError(f"'extend' ({c['extend']}) must be a multiple of "
                          f"'patch' ({unit}): it steps whole patches")


def load_switch(raw):
    c = _decoder(raw, "switch", {"experts", "expert_ffn", "capacity_factor",
                                 "dropless", "extend"})
    _experts(raw, c)
    _extend(raw, c)
    return c


def load_mod(raw):
    c = _decoder(raw, "mod", {"routing", "capacity", "experts", "expert_ffn",
                              "capacity_factor", "dropless", "extend"})
    _extend(raw, c)
    c["routing"] = _choice(raw, "routing", "", ["causal", "topk"], "causal")
    c["capacity"] = _float(raw, "capacity", "", 0.125)
    if "experts" in raw:
        # Hybrid: Switch experts as every FFN.
        _experts(raw, c)
    elif "expert_ffn" in raw or "dropless" in raw:
        raise ConfigError("'expert_ffn' and 'dropless' need 'experts' (the "
                          "Mixture-of-Depths + Switch hybrid)")
    if c["capacity"] > 1:
        raise ConfigError(f"'capacity' is {c['capacity']}, expected a "
                          "fraction in (0, 1]")
    product = c["context"] * c["capacity"]
    if int(product + 1e-9 * max(1.0, product)) < 1:
        raise ConfigError(f"'capacity' {c['capacity']} of 'context' "
                          f"{c['context']} routes no token")
    _head_width(c["dim"], c["heads"], "")
    return c


def load_megalodon(raw):
    c = _decoder(raw, "megalodon", {"chunk", "z_dim", "v_dim", "cema_ndim",
                                    "groups"}, head_check=False)
    if "activation" in raw:
        raise ConfigError("'activation' does not apply: Megalodon's FFN is "
                          "SwiGLU")
    del c["activation"]
    c["chunk"] = _int(raw, "chunk", "")
    c["z_dim"] = _int(raw, "z_dim", "")
    c["v_dim"] = _int(raw, "v_dim", "")
    c["cema_ndim"] = _int(raw, "cema_ndim", "", default=16)
    c["groups"] = _int(raw, "groups", "", default=4)
    if c["context"] % c["chunk"]:
        raise ConfigError(f"'context' ({c['context']}) must be a multiple of "
                          f"'chunk' ({c['chunk']}): prefill consumes whole "
                          "chunks (decode takes any number of tokens)")
    if c["dim"] % c["groups"]:
        raise ConfigError(f"'dim' ({c['dim']}) must be a multiple of "
                          f"'groups' ({c['groups']})")
    _head_width(c["z_dim"], c["heads"], "z_dim: ")
    if c["v_dim"] % c["heads"]:
        raise ConfigError(f"'v_dim' ({c['v_dim']}) must be a multiple of "
                          f"'heads' ({c['heads']})")
    return c


def load(raw):
    if not isinstance(raw, dict):
        raise ConfigError("the config is not a JSON object")
    arch = raw.get("arch")
    if arch == "infini":
        return load_infini(raw)
    if arch == "switch":
        return load_switch(raw)
    if arch == "mod":
        return load_mod(raw)
    if arch == "megalodon":
        return load_megalodon(raw)
    if arch != "megabyte":
        return {"arch": arch}
    _check_keys(raw, {"arch", "name", "vocab", "patch", "context", "batch",
                      "global", "local", "activation", "rope_theta",
                      "comment", "extend"}, "")
    config = {
        "arch": arch,
        "name": raw.get("name", "megabyte"),
        "vocab": _int(raw, "vocab", "", default=256),
        "patch": _int(raw, "patch", ""),
        "context": _int(raw, "context", ""),
        "batch": _int(raw, "batch", "", default=1),
        "activation": _choice(raw, "activation", "", ["relu", "gelu"], "relu"),
        "rope_theta": _float(raw, "rope_theta", "", 10000.0),
        "global": _stack(_object(raw, "global", ""), "global: ",
                         "dim_per_byte", hybrid=True),
        "local": _stack(_object(raw, "local", ""), "local: ", "dim"),
    }
    if config["context"] % config["patch"]:
        raise ConfigError(f"'context' ({config['context']}) must be a "
                          f"multiple of 'patch' ({config['patch']})")
    g = config["global"]
    if g["attention"] == "infini":
        # The memory takes a segment when it fills: no multi-patch step.
        if raw.get("extend"):
            raise ConfigError("'extend' needs plain global attention (an "
                              "Infini global model consumes whole segments)")
        config["extend"] = 0
    else:
        _extend(raw, config, config["patch"])
    g["model_width"] = g["width"] * config["patch"]
    k = config["context"] // config["patch"]
    if g["attention"] == "infini" and k % g["segment"]:
        raise ConfigError(f"global: the {k} patches of the context must be a "
                          f"multiple of 'segment' ({g['segment']}): prefill "
                          "consumes whole segments")
    for name, stack in (("global", g), ("local", config["local"])):
        width = stack["model_width"] if name == "global" else stack["width"]
        _head_width(width, stack["heads"], f"{name}: ")
    return config
