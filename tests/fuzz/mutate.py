"""Mutations of a model directory, as an attacker or an unlucky disk would make them.

Each mutation is `name(rng, directory, scratch) -> description`: it changes the directory in place
(`scratch` is a folder outside it, for link targets) and says what it did. `mutate` applies a few.
"""
import json
import os
import pickle
import random
import shutil
import stat
import struct
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

JSON_FILES = ("config.json", "preprocessing.json")
TENSOR_FILES = ("model.safetensors", "optimizer.safetensors")
MARKER = "PICKLE_RAN"  # a pickle payload would create this file if loading ever ran it


def _regular(p: Path) -> bool:
    """A plain file (not a link, FIFO or device): the mutations read only those, or they could hang."""
    try:
        return stat.S_ISREG(os.lstat(p).st_mode)
    except FileNotFoundError:
        return False


def _clear(p: Path) -> Path:
    """Remove whatever non-regular entry is at p, so a write never goes through a link or blocks on
    a FIFO; returns p."""
    if os.path.lexists(p) and not _regular(p):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()
    return p


def _small(p: Path) -> bool:
    return _regular(p) and p.stat().st_size <= 64 << 20


def _files(d: Path, names=None):
    """The plain files a mutation may read and rewrite: not the huge (sparse) ones that `huge_file`
    made, which would take the fuzzer's own memory."""
    return sorted(p for p in d.iterdir() if _small(p) and (names is None or p.name in names))


def _pick(rng, items):
    return rng.choice(items) if items else None


def _leaves(value, path=()):
    """Every (path, value) in a JSON tree, containers included."""
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list):
        for k, v in enumerate(value):
            yield from _leaves(v, (*path, k))


def _json_edit(rng, d, edit):
    file = _pick(rng, _files(d, JSON_FILES))
    if file is None:
        return "no JSON file"
    tree = json.loads(file.read_text(encoding="utf-8"))
    paths = [(p, v) for p, v in _leaves(tree) if p]
    path, value = rng.choice(paths)
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    text = edit(rng, parent, path[-1], value)
    raw = json.dumps(tree, allow_nan=True)
    if text is not None:  # a literal the json module will not write (NaN with a marker)
        raw = raw.replace('"@@LITERAL@@"', text)
    file.write_text(raw, encoding="utf-8")
    return f"{file.name}:{'.'.join(map(str, path))[:80]}"


def json_delete(rng, d, scratch):
    def edit(rng, parent, key, value):
        if isinstance(parent, dict):
            del parent[key]
        else:
            parent.pop(key)
    return "delete " + _json_edit(rng, d, edit)


OTHER_TYPES = ["text", 3, -1, 0.5, True, False, None, [], {}, [1, 2], {"a": 1}, "", "2"]


def json_type(rng, d, scratch):
    def edit(rng, parent, key, value):
        parent[key] = rng.choice([v for v in OTHER_TYPES if type(v) is not type(value)])
    return "retype " + _json_edit(rng, d, edit)


HUGE = [2**31, 2**63, 10**30, 1e308, -(2**31), -1, 0, -1e308, 10**5000 // 10**4990, "x" * 100_000,
        list(range(100_000))]


def json_huge(rng, d, scratch):
    def edit(rng, parent, key, value):
        parent[key] = rng.choice(HUGE)
    return "huge " + _json_edit(rng, d, edit)


def json_negative(rng, d, scratch):
    def edit(rng, parent, key, value):
        parent[key] = -value if type(value) in (int, float) and value else -1
    return "negate " + _json_edit(rng, d, edit)


def json_nonfinite(rng, d, scratch):
    def edit(rng, parent, key, value):
        parent[key] = "@@LITERAL@@"
        return rng.choice(["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
    return "non-finite " + _json_edit(rng, d, edit)


def json_digits(rng, d, scratch):
    """An integer of 5,000 digits: Python refuses to parse it (its int-size guard)."""
    def edit(rng, parent, key, value):
        parent[key] = "@@LITERAL@@"
        return "9" * 5000
    return "digits " + _json_edit(rng, d, edit)


def flip_bytes(rng, d, scratch):
    file = _pick(rng, _files(d))
    data = bytearray(file.read_bytes())
    for _ in range(rng.randint(1, 8)):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    file.write_bytes(bytes(data))
    return f"flip {file.name}"


def truncate(rng, d, scratch):
    file = _pick(rng, _files(d))
    data = file.read_bytes()
    file.write_bytes(data[:rng.randrange(len(data) + 1)])
    return f"truncate {file.name}"


def _tensor_edit(rng, d, edit):
    file = _pick(rng, _files(d, TENSOR_FILES))
    if file is None:
        return "no tensor file"
    tensors = load_file(str(file))
    if not tensors:
        return f"{file.name} empty"
    name = rng.choice(sorted(tensors))
    edit(rng, tensors, name)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(file))
    return f"{file.name}:{name}"


def tensor_shape(rng, d, scratch):
    def edit(rng, tensors, name):
        t = tensors[name]
        choice = rng.randrange(4)
        if choice == 0:
            tensors[name] = torch.zeros((t.shape[0] + 1, *t.shape[1:]) if t.dim() else (2,), dtype=t.dtype)
        elif choice == 1:
            tensors[name] = t.reshape(-1)
        elif choice == 2:
            tensors[name] = torch.zeros((), dtype=t.dtype)
        else:
            tensors[name] = t.unsqueeze(0)
    return "shape " + _tensor_edit(rng, d, edit)


def tensor_dtype(rng, d, scratch):
    def edit(rng, tensors, name):
        tensors[name] = tensors[name].to(rng.choice([torch.float64, torch.float16, torch.int64,
                                                     torch.int32, torch.bool, torch.uint8, torch.bfloat16]))
    return "dtype " + _tensor_edit(rng, d, edit)


def tensor_nonfinite(rng, d, scratch):
    def edit(rng, tensors, name):
        t = tensors[name].clone()
        if t.is_floating_point() and t.numel():
            t.view(-1)[rng.randrange(t.numel())] = rng.choice([float("nan"), float("inf"), -float("inf")])
        tensors[name] = t
    return "non-finite " + _tensor_edit(rng, d, edit)


def tensor_rename(rng, d, scratch):
    def edit(rng, tensors, name):
        tensors[name + rng.choice(["_x", ".extra", "/../x"])] = tensors.pop(name)
    return "rename " + _tensor_edit(rng, d, edit)


def tensor_drop(rng, d, scratch):
    def edit(rng, tensors, name):
        del tensors[name]
    return "drop " + _tensor_edit(rng, d, edit)


def tensor_extra(rng, d, scratch):
    def edit(rng, tensors, name):
        tensors["extra.weight"] = torch.zeros(rng.choice([(3,), (1000, 1000)]))
    return "extra " + _tensor_edit(rng, d, edit)


def header_lies(rng, d, scratch):
    """A safetensors header whose length or offsets do not fit the file."""
    file = _pick(rng, _files(d, TENSOR_FILES))
    if file is None:
        return "no tensor file"
    data = file.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    choice = rng.randrange(4)
    if choice == 0:
        file.write_bytes(struct.pack("<Q", rng.choice([2**63, 2**40, len(data)])) + data[8:])
        return f"header length {file.name}"
    name = rng.choice([k for k in header if k != "__metadata__"])
    if choice == 1:
        header[name]["data_offsets"] = [0, 2**40]
    elif choice == 2:
        header[name]["shape"] = [2**20, 2**20, 2**20]
    else:
        header[name]["dtype"] = rng.choice(["F8_E4M3", "C64", "X", 3])
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    file.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n:])
    return f"header {file.name}:{name}"


class _Payload:
    """Unpickling this would create the marker file: loading must never unpickle."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def pickle_renamed(rng, d, scratch):
    file = d / rng.choice(TENSOR_FILES)
    _clear(file)
    if rng.random() < 0.5:
        torch.save({"weight": torch.zeros(3), "payload": _Payload(scratch / MARKER)}, file)
    else:
        file.write_bytes(pickle.dumps(_Payload(scratch / MARKER)))
    return f"pickle as {file.name}"


def missing_file(rng, d, scratch):
    file = _pick(rng, _files(d))
    file.unlink()
    return f"remove {file.name}"


def extra_file(rng, d, scratch):
    name = rng.choice(["README", "model.safetensors.bak", ".hidden", "config.json~", "preprocessing.json"])
    if not os.path.lexists(d / name):
        (d / name).write_bytes(os.urandom(rng.randrange(100)))
    return f"add {name}"


def symlink_out(rng, d, scratch):
    name = rng.choice(JSON_FILES + TENSOR_FILES)
    # targets outside the directory; none that a write through the link could harm
    target = rng.choice(["/dev/zero", "/dev/urandom", str(scratch / "copy"), str(scratch), "/nonexistent"])
    if _small(d / name) and target.endswith("copy"):
        (scratch / "copy").write_bytes((d / name).read_bytes())
    _clear(d / name).unlink(missing_ok=True)
    (d / name).symlink_to(target)
    return f"link {name} -> {target}"


def symlink_loop(rng, d, scratch):
    name = rng.choice(JSON_FILES + TENSOR_FILES)
    _clear(d / name).unlink(missing_ok=True)
    (d / name).symlink_to(name)
    return f"loop {name}"


def fifo(rng, d, scratch):
    name = rng.choice(JSON_FILES + TENSOR_FILES)
    _clear(d / name).unlink(missing_ok=True)
    os.mkfifo(d / name)
    return f"fifo {name}"


def not_a_file(rng, d, scratch):
    name = rng.choice(JSON_FILES + TENSOR_FILES)
    _clear(d / name).unlink(missing_ok=True)
    (d / name).mkdir()
    return f"directory {name}"


def huge_file(rng, d, scratch):
    """A sparse file of hundreds of MB: reading it whole would take the memory."""
    name = rng.choice(JSON_FILES + TENSOR_FILES)
    if os.path.lexists(d / name) and not _regular(d / name):
        return f"huge {name} (not a plain file)"
    with open(d / name, "ab") as f:
        f.truncate(rng.choice([100 << 20, 300 << 20, 10 << 30]))
    return f"huge {name}"


def big_json(rng, d, scratch):
    """A valid JSON file of a few MB, under or over the limits (written as text: fast)."""
    name = rng.choice(JSON_FILES)
    size = rng.choice([1 << 20, 5 << 20])
    tree = json.loads((d / name).read_text()) if _small(d / name) else {}
    head = json.dumps(tree)[:-1] + (", " if tree else "")
    _clear(d / name).write_text(head + '"padding": [' + "0.5, " * (size // 5) + "0.5]}")
    return f"big {name} ({size >> 20} MB)"


def deep_json(rng, d, scratch):
    name = rng.choice(JSON_FILES + ("model.safetensors",))
    depth = rng.choice([100, 10_000, 100_000])
    body = "[" * depth + "]" * depth if rng.random() < 0.5 else '{"a":' * depth + "1" + "}" * depth
    if name.endswith(".safetensors"):
        raw = body.encode()
        _clear(d / name).write_bytes(struct.pack("<Q", len(raw)) + raw)
    else:
        _clear(d / name).write_text(body)
    return f"deep {name} ({depth})"


def encoding(rng, d, scratch):
    name = rng.choice(JSON_FILES)
    if _small(d / name):
        text = (d / name).read_text(encoding="utf-8")
        raw = rng.choice([b"\xef\xbb\xbf" + text.encode(), text.encode("utf-16"), text.encode() + b"\xff\xfe",
                          b"\x00" * 10])
        (d / name).write_bytes(raw)
    return f"encoding {name}"


def json_not_object(rng, d, scratch):
    name = rng.choice(JSON_FILES)
    _clear(d / name).write_text(rng.choice(["[]", "1", '"text"', "null", "", "{", '{"a": 1} trailing']))
    return f"not an object {name}"


def optimizer_step(rng, d, scratch):
    """The optimizer's step tensors with another dtype or shape (the first fit used to fail)."""
    file = d / "optimizer.safetensors"
    if not _small(file):
        return "no optimizer"
    tensors = load_file(str(file))
    steps = [k for k in tensors if k.endswith(".step")]
    if not steps:
        return "no step"
    name = rng.choice(steps)
    tensors[name] = rng.choice([tensors[name].to(torch.int64), tensors[name].reshape(1),
                                torch.tensor(-3.0), tensors[name].to(torch.bool)])
    save_file(tensors, str(file))
    return f"step {name}"


MUTATIONS = {f.__name__: f for f in [
    json_delete, json_type, json_huge, json_negative, json_nonfinite, json_digits, flip_bytes, truncate,
    tensor_shape, tensor_dtype, tensor_nonfinite, tensor_rename, tensor_drop, tensor_extra, header_lies,
    pickle_renamed, missing_file, extra_file, symlink_out, symlink_loop, fifo, not_a_file, huge_file,
    big_json, deep_json, encoding, json_not_object, optimizer_step]}
# the JSON edits are where the schema is tested field by field: they come up more often
WEIGHTS = {name: (4 if name.startswith("json_") else 1) for name in MUTATIONS}


def choose(rng: random.Random, k: int) -> list:
    names = list(MUTATIONS)
    return rng.choices(names, weights=[WEIGHTS[n] for n in names], k=k)


def mutate(rng: random.Random, d: Path, scratch: Path, names) -> list:
    """Apply the named mutations in order; a later one may find its file gone (it then does nothing)."""
    done = []
    for name in names:
        try:
            done.append(MUTATIONS[name](rng, d, scratch))
        except Exception:  # noqa: BLE001  (e.g. safetensors' own error for a file already broken)
            done.append(f"{name} (not applicable)")  # an earlier mutation broke what this one edits
    return done
