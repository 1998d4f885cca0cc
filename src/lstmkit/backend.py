"""The few `keras.backend` calls that LSTM programs make: `clear_session`, `floatx`, `epsilon`.

lstmkit computes in float32 on torch and keeps no global graph or layer-name counters, so
`clear_session()` has nothing to release; `set_floatx` accepts only 'float32'.

Example:
    >>> import lstmkit as keras
    >>> keras.backend.clear_session(); keras.backend.floatx()
    'float32'
"""
from .errors import LstmkitError

EPSILON = 1e-7  # Keras' fuzz factor: the losses' clipping and the constraints' norms use it


def clear_session(free_memory=True):
    """Keras resets its global state here; lstmkit keeps none (models are plain torch modules)."""


def floatx() -> str:
    return "float32"


def set_floatx(value):
    if value != "float32":
        raise LstmkitError(f"set_floatx: lstmkit's layers compute in float32, got {value!r}")


def epsilon() -> float:
    return EPSILON


def backend() -> str:
    return "torch"
