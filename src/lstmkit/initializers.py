"""Keras 3 weight initializers: objects with `seed` and `get_config`, and the same by snake_case name.

An initializer is called as Keras calls it, `init(shape, dtype=None) -> Tensor`, with the weight's Keras
shape (a Dense kernel is (in, out), a Conv1D kernel (kernel_size, in, out)); fans are Keras':
    fan_in, fan_out = shape[0], shape[1]                       for a matrix
    fan_in, fan_out = shape[-2] * r, shape[-1] * r              r = prod(shape[:-2]) for conv kernels
VarianceScaling draws with variance scale / n (n = fan_in, fan_out or their mean): uniform in
±sqrt(3 scale / n), or a normal truncated at 2 standard deviations whose stddev is
sqrt(scale / n) / 0.8796... so that the truncated values keep variance scale / n.
A seeded initializer gives the same values on every call, as in Keras 3; an unseeded one draws from
torch's global generator (`lstmkit.utils.set_random_seed` makes it repeatable).

Example:
    >>> from lstmkit import initializers
    >>> initializers.get("glorot_uniform")((3, 2)).shape
    torch.Size([3, 2])
    >>> initializers.Constant(0.5)((2,)).tolist()
    [0.5, 0.5]
"""
import math
import re

import torch

from .errors import LstmkitError

TRUNCATED_STD = 0.87962566103423978  # stddev of a standard normal truncated at ±2


def compute_fans(shape, input_axes=None, output_axes=None) -> tuple[int, int]:
    """(fan_in, fan_out) of a Keras weight shape, as `keras.initializers` computes them (the products
    over `input_axes` and `output_axes` when both are given)."""
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return math.prod(shape[a] for a in input_axes), math.prod(shape[a] for a in output_axes)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return int(shape[0]), int(shape[0])
    receptive = math.prod(shape[:-2])
    return int(shape[-2] * receptive), int(shape[-1] * receptive)


def _dtype(dtype):
    return getattr(torch, dtype) if isinstance(dtype, str) else (dtype or torch.float32)


class Initializer:
    """Base class: `__call__(shape, dtype=None)` returns a new tensor; `get_config()` its arguments."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Constant(Initializer):
    """Every value equals `value`."""

    def __init__(self, value=0.0):
        self.value = float(value)

    def __call__(self, shape, dtype=None):
        return torch.full(tuple(shape), self.value, dtype=_dtype(dtype))

    def get_config(self):
        return {"value": self.value}


class Zeros(Constant):
    """All zeros."""

    def __init__(self):
        super().__init__(0.0)

    def get_config(self):
        return {}


class Ones(Constant):
    """All ones."""

    def __init__(self):
        super().__init__(1.0)

    def get_config(self):
        return {}


class Identity(Initializer):
    """`gain` times the identity matrix (2D shapes only)."""

    def __init__(self, gain=1.0):
        self.gain = float(gain)

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise LstmkitError(f"Identity: expected a 2D shape, got {tuple(shape)}")
        return self.gain * torch.eye(*shape, dtype=_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain}


class RandomInitializer(Initializer):
    """An initializer that draws random numbers: seeded (same values every call) or from torch's RNG."""

    def __init__(self, seed=None):
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise LstmkitError(f"seed: expected an int or None, got {seed!r}")
        self.seed = seed

    def generator(self):
        return None if self.seed is None else torch.Generator().manual_seed(self.seed)

    def get_config(self):
        return {"seed": self.seed}


def _truncated_normal(shape, mean, stddev, dtype, gen):
    """Normal(mean, stddev) truncated at mean ± 2 stddev (resampled, as Keras does)."""
    out = torch.empty(tuple(shape), dtype=_dtype(dtype))
    torch.nn.init.trunc_normal_(out, 0.0, 1.0, -2.0, 2.0, generator=gen)
    return out * stddev + mean


class RandomNormal(RandomInitializer):
    """Normal(mean, stddev); Keras' defaults mean 0, stddev 0.05."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape, dtype=None):
        out = torch.empty(tuple(shape), dtype=_dtype(dtype))
        return out.normal_(self.mean, self.stddev, generator=self.generator())

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class TruncatedNormal(RandomNormal):
    """Normal(mean, stddev) truncated at 2 stddev: the values' own stddev is about 0.88 * stddev."""

    def __call__(self, shape, dtype=None):
        return _truncated_normal(shape, self.mean, self.stddev, dtype, self.generator())


class RandomUniform(RandomInitializer):
    """Uniform in [minval, maxval); Keras' defaults ±0.05."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)

    def __call__(self, shape, dtype=None):
        out = torch.empty(tuple(shape), dtype=_dtype(dtype))
        return out.uniform_(self.minval, self.maxval, generator=self.generator())

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class VarianceScaling(RandomInitializer):
    """Variance scale / n with n from `mode` ('fan_in', 'fan_out', 'fan_avg'); `distribution`
    'truncated_normal', 'untruncated_normal' or 'uniform' (see the module docstring)."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        super().__init__(seed)
        self.input_axes, self.output_axes = input_axes, output_axes
        if not scale > 0:
            raise LstmkitError(f"scale: expected a positive float, got {scale!r}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise LstmkitError(f"mode: expected 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")
        distribution = "truncated_normal" if distribution == "normal" else distribution
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise LstmkitError("distribution: expected 'truncated_normal', 'untruncated_normal' or "
                               f"'uniform', got {distribution!r}")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        scale, gen = self.scale / max(1.0, n), self.generator()
        if self.distribution == "truncated_normal":
            return _truncated_normal(shape, 0.0, math.sqrt(scale) / TRUNCATED_STD, dtype, gen)
        out = torch.empty(tuple(shape), dtype=_dtype(dtype))
        if self.distribution == "untruncated_normal":
            return out.normal_(0.0, math.sqrt(scale), generator=gen)
        limit = math.sqrt(3.0 * scale)
        return out.uniform_(-limit, limit, generator=gen)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                **super().get_config(), "input_axes": self.input_axes, "output_axes": self.output_axes}


def _scaling(name, scale, mode, distribution, doc):
    def __init__(self, seed=None, input_axes=None, output_axes=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}
    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config, "__doc__": doc})


GlorotUniform = _scaling("GlorotUniform", 1.0, "fan_avg", "uniform", "Uniform in ±sqrt(6 / (fan_in + fan_out)).")
GlorotNormal = _scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                        "Truncated normal, variance 2 / (fan_in + fan_out).")
HeUniform = _scaling("HeUniform", 2.0, "fan_in", "uniform", "Uniform in ±sqrt(6 / fan_in).")
HeNormal = _scaling("HeNormal", 2.0, "fan_in", "truncated_normal", "Truncated normal, variance 2 / fan_in.")
LecunUniform = _scaling("LecunUniform", 1.0, "fan_in", "uniform", "Uniform in ±sqrt(3 / fan_in).")
LecunNormal = _scaling("LecunNormal", 1.0, "fan_in", "truncated_normal", "Truncated normal, variance 1 / fan_in.")


class Orthogonal(RandomInitializer):
    """`gain` times an orthogonal matrix from the QR decomposition of a normal matrix, the shape
    flattened to (prod(shape[:-1]), shape[-1]); orthogonal rows when there are fewer rows than columns."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = float(gain)

    def __call__(self, shape, dtype=None):
        if len(shape) < 2:
            raise LstmkitError(f"Orthogonal: expected a shape of at least 2 dimensions, got {tuple(shape)}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = torch.empty(max(rows, cols), min(rows, cols), dtype=torch.float64)
        a.normal_(generator=self.generator())
        q, r = torch.linalg.qr(a)
        q = q * torch.sign(torch.diagonal(r))  # make Q uniform over the orthogonal group
        q = q.t() if rows < cols else q
        return (self.gain * q).reshape(tuple(shape)).to(_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}


ALL = (Constant, Zeros, Ones, Identity, RandomNormal, TruncatedNormal, RandomUniform, VarianceScaling,
       GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


NAMES = {**{cls.__name__: cls for cls in ALL}, **{_snake(cls.__name__): cls for cls in ALL},
         "normal": RandomNormal, "uniform": RandomUniform, "zero": Zeros, "one": Ones}
for _cls in ALL:  # Keras exports every class under its snake_case name too
    globals()[_snake(_cls.__name__)] = _cls


def get(identifier, arg="initializer"):
    """An initializer from a name, a `{'class_name', 'config'}` dict, an Initializer or a callable.

    Raises:
        LstmkitError: an unknown name or class (naming `arg`).
    """
    if isinstance(identifier, Initializer) or (callable(identifier) and not isinstance(identifier, type)):
        return identifier
    if isinstance(identifier, type) and identifier in ALL:
        return identifier()
    if isinstance(identifier, dict) and set(identifier) >= {"class_name"}:
        cls = NAMES.get(identifier["class_name"])
        if cls is None:
            raise LstmkitError(f"{arg}: unknown initializer class {identifier['class_name']!r}")
        return cls(**identifier.get("config", {}))
    if isinstance(identifier, str) and identifier in NAMES:
        return NAMES[identifier]()
    raise LstmkitError(f"{arg}: unknown initializer {identifier!r}; known names: "
                       f"{', '.join(sorted(k for k in NAMES if k.islower()))}")


def serialize(init):
    """A name stays a name; an Initializer becomes Keras' {'class_name', 'config'} dict."""
    if isinstance(init, (str, dict)) or init is None:
        return init
    if isinstance(init, Initializer):
        return {"class_name": type(init).__name__, "config": init.get_config()}
    raise LstmkitError(f"initializer: {init!r} is a plain callable and cannot be written to a config")
