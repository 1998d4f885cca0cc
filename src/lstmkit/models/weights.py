"""get_weights / set_weights for any model: lstmkit layers in Keras' order and layout, other modules'
own parameters and buffers as torch holds them, in registration order."""
import numpy as np
import torch

from ..errors import LstmkitError
from ..layers import Layer


def owners(model):
    """lstmkit layers (whole) and other modules (their own tensors), in registration order."""
    def walk(module):
        yield module
        if not isinstance(module, Layer):
            for child in module.children():
                yield from walk(child)
    return list(walk(model))


def get_weights(model) -> list:
    return [w for owner in owners(model) for w in _owner_weights(owner)]


def set_weights(model, arrays):
    arrays, k = list(arrays), 0
    for owner in owners(model):
        n = len(_owner_weights(owner))
        _set_owner_weights(owner, arrays[k:k + n])
        k += n
    if k != len(arrays):
        raise LstmkitError(f"set_weights: the model has {k} weight arrays, got {len(arrays)}")


def _owner_weights(owner):
    if isinstance(owner, Layer):
        return owner.get_weights()
    tensors = [*owner.parameters(recurse=False), *owner.buffers(recurse=False)]
    return [t.detach().cpu().numpy().copy() for t in tensors]


def _set_owner_weights(owner, arrays):
    if isinstance(owner, Layer):
        owner.set_weights(arrays)
        return
    with torch.no_grad():
        for t, a in zip([*owner.parameters(recurse=False), *owner.buffers(recurse=False)], arrays):
            a = torch.as_tensor(np.asarray(a), dtype=t.dtype)
            if a.shape != t.shape:
                raise LstmkitError(f"set_weights: expected an array of shape {tuple(t.shape)}, "
                                   f"got {tuple(a.shape)}")
            t.copy_(a)
