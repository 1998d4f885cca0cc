"""An optimizer's `state_dict()` as files: its tensors in optimizer.safetensors, the rest (parameter
indices, scalars, hyperparameters) as JSON in config.json, and back, with the structure checked."""
from pathlib import Path

import torch

from .errors import ModelFileError
from .safefile import short_names


def split_state(state_dict: dict) -> tuple[dict, dict]:
    """torch optimizer state_dict -> (tensors for safetensors, JSON-able rest)."""
    tensors, state = {}, {}
    for key, values in state_dict["state"].items():
        entry = {"tensors": [], "scalars": {}}
        for name, value in values.items():
            if torch.is_tensor(value):
                tensors[f"state.{key}.{name}"] = value.detach().to("cpu").contiguous()
                entry["tensors"].append(name)
            else:
                entry["scalars"][name] = value
        state[str(key)] = entry
    groups = [{k: (v.item() if torch.is_tensor(v) else v) for k, v in g.items()}
              for g in state_dict["param_groups"]]
    return tensors, {"state": state, "param_groups": groups}


def join_state(meta, header: dict, tensors: dict, file: Path) -> dict:
    """{"state": {index: {name: tensor or number}}, "param_groups": [...]} from config's
    "optimizer_state" and the tensors of optimizer.safetensors, whose names must match it exactly."""
    where = f"model: {file}: optimizer_state"
    if not (isinstance(meta, dict) and isinstance(meta.get("state"), dict)
            and isinstance(meta.get("param_groups"), list)):
        raise ModelFileError(f"{where}: expected an object with 'state' and 'param_groups'")
    state, declared = {}, set()
    for key, entry in meta["state"].items():
        if not key.isdigit() or not isinstance(entry, dict) or not isinstance(entry.get("tensors"), list) \
                or not isinstance(entry.get("scalars", {}), dict):
            raise ModelFileError(f"{where}.state[{key[:20]!r}]: expected a parameter index with "
                                 "'tensors' (names) and 'scalars'")
        scalars = entry.get("scalars", {})
        if not all(isinstance(v, (int, float, bool)) for v in scalars.values()):
            raise ModelFileError(f"{where}.state[{key!r}].scalars: expected numbers")
        names = {f"state.{key}.{n}": n for n in entry["tensors"] if isinstance(n, str)}
        if len(names) != len(entry["tensors"]):
            raise ModelFileError(f"{where}.state[{key!r}].tensors: expected a list of distinct names")
        declared |= set(names)
        state[int(key)] = {**scalars, **{n: tensors[k] for k, n in names.items() if k in tensors}}
    if declared != set(header):
        raise ModelFileError(f"model: {file.parent / 'optimizer.safetensors'} does not match optimizer_state in "
                             f"{file} (missing {short_names(sorted(declared - set(header)))}, "
                             f"unexpected {short_names(sorted(set(header) - declared))})")
    return {"state": state, "param_groups": meta["param_groups"]}
