"""Input checks shared by the torch-style modules: clear errors naming the argument and the shapes."""
import torch

from ..errors import LstmkitError


def check_input(x: torch.Tensor, features: int, param: torch.Tensor, name: str) -> None:
    """x's last dimension, dtype and device must match the module's parameters."""
    if x.shape[-1] != features:
        raise LstmkitError(f"{name}: expected {features} features in the last dimension, "
                           f"got shape {tuple(x.shape)}")
    if x.dtype != param.dtype:
        raise LstmkitError(f"{name}: expected dtype {param.dtype} (the module's parameters), got {x.dtype}")
    if x.device != param.device:
        raise LstmkitError(f"{name}: expected a tensor on {param.device} (the module's parameters), "
                           f"got one on {x.device}")


def check_hx(h: torch.Tensor, shape: tuple, x: torch.Tensor, name: str) -> torch.Tensor:
    """An initial state must have `shape` and x's dtype and device."""
    if not isinstance(h, torch.Tensor):
        raise LstmkitError(f"{name}: expected a tensor of shape {shape}, got {type(h).__name__}")
    if tuple(h.shape) != tuple(shape):
        raise LstmkitError(f"{name}: expected shape {tuple(shape)}, got {tuple(h.shape)}")
    if h.dtype != x.dtype:
        raise LstmkitError(f"{name}: expected dtype {x.dtype} (the input's), got {h.dtype}")
    if h.device != x.device:
        raise LstmkitError(f"{name}: expected a tensor on {x.device} (the input's), got one on {h.device}")
    return h
