"""Keras-style merge layers for the functional API: Concatenate, Add, Multiply, Average, Subtract
and Dot take a list of tensors.

Masks merge as in Keras: a step is valid where every input that carries a mask is valid there; when
Concatenate joins sequences along the time axis, their masks are joined the same way.

Example:
    >>> import torch
    >>> from lstmkit.layers import Add, Concatenate
    >>> Concatenate()([torch.ones(2, 3), torch.zeros(2, 1)]).shape, Add()([torch.ones(2), torch.ones(2)])
    (torch.Size([2, 4]), tensor([2., 2.]))
"""
import torch
import torch.nn.functional as F

from ..errors import LstmkitError
from .base import Layer, default_name


class _Merge(Layer):
    """A layer over a list of at least two tensors."""

    def __init__(self, name=None):
        super().__init__(None, name)

    def _check(self, shapes):
        label = self.name or default_name(self)
        if not isinstance(shapes, (list, tuple)) or len(shapes) < 2:
            raise LstmkitError(f"{label}: expected a list of at least two inputs")
        if len({len(s) for s in shapes}) != 1:
            raise LstmkitError(f"{label}: expected inputs of one rank, got shapes {list(map(tuple, shapes))}")

    def build(self, input_shape):
        self._check(input_shape)
        self.built = True

    def compute_mask(self, x, mask):
        masks = [m for m in (mask or []) if m is not None]
        if not masks:
            return None
        out = masks[0]
        for m in masks[1:]:
            out = out & m
        return out

    def forward(self, xs, mask=None):
        self._check([tuple(x.shape) for x in xs] if isinstance(xs, (list, tuple)) else xs)
        return self.merge(list(xs))


class Concatenate(_Merge):
    """Joins the inputs along `axis` (default: the last, the features); other axes must match."""

    def __init__(self, axis=-1, name=None):
        super().__init__(name)
        self.axis = axis

    def compute_mask(self, x, mask):
        if mask is not None and any(m is not None for m in mask) and x[0].dim() >= 3 \
                and self.axis % x[0].dim() == 1:
            return _joined_masks(x, mask)  # joined in time: the masks follow their steps
        return super().compute_mask(x, mask)

    def merge(self, xs):
        try:
            return torch.cat(xs, dim=self.axis)
        except RuntimeError:
            raise LstmkitError(f"{self.name or 'concatenate'}: shapes {[tuple(x.shape) for x in xs]} do not "
                               f"match outside axis {self.axis}") from None

    def compute_output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        axis = self.axis % len(shapes[0])
        mismatch = LstmkitError(f"{self.name or 'concatenate'}: shapes {shapes} do not match outside "
                                f"axis {self.axis}")
        return tuple((None if None in dims else sum(dims)) if k == axis else _agree(dims, mismatch)
                     for k, dims in enumerate(zip(*shapes)))

    def get_config(self):
        return {"name": self.name, "axis": self.axis}


class _Elementwise(_Merge):
    """An element-wise combination of inputs of one shape: subclasses define `combine(xs)`."""

    def merge(self, xs):
        if len({tuple(x.shape) for x in xs}) != 1:
            raise LstmkitError(f"{self.name or default_name(self)}: expected inputs of one shape, got "
                               f"{[tuple(x.shape) for x in xs]}")
        return self.combine(xs)

    def compute_output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        mismatch = LstmkitError(f"{self.name or default_name(self)}: expected inputs of one shape, got {shapes}")
        return tuple(_agree(dims, mismatch) for dims in zip(*shapes))

    def get_config(self):
        return {"name": self.name}


class Add(_Elementwise):
    """The element-wise sum of inputs of one shape."""

    def combine(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Multiply(_Elementwise):
    """The element-wise product of inputs of one shape."""

    def combine(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Average(_Elementwise):
    """The element-wise mean of inputs of one shape."""

    def combine(self, xs):
        return Add.combine(self, xs) / len(xs)


class Subtract(_Elementwise):
    """inputs[0] - inputs[1] (exactly two inputs)."""

    def _check(self, shapes):
        super()._check(shapes)
        if len(shapes) != 2:
            raise LstmkitError(f"{self.name or 'subtract'}: expected exactly two inputs, got {len(shapes)}")

    def combine(self, xs):
        return xs[0] - xs[1]


class Dot(_Merge):
    """The dot product of two inputs along `axes`, per sample (Keras' batch_dot).

    Args:
        axes: an int (the same axis of both) or a pair, counted with the batch axis as 0.
        normalize: L2-normalise both inputs along those axes first (the cosine similarity).

    For x (B, T, D) and y (B, S, D), axes=2 gives (B, T, S); for x, y (B, D), axes=1 gives (B, 1).
    """

    def __init__(self, axes, normalize=False, name=None):
        super().__init__(name)
        pair = tuple(axes) if isinstance(axes, (list, tuple)) else (axes, axes)
        if len(pair) != 2 or not all(isinstance(a, int) and not isinstance(a, bool) for a in pair):
            raise LstmkitError(f"axes: expected an int or a pair of ints, got {axes!r}")
        self.axes, self.normalize = pair, normalize

    def _check(self, shapes):
        super()._check(shapes)
        if len(shapes) != 2:
            raise LstmkitError(f"{self.name or 'dot'}: expected exactly two inputs, got {len(shapes)}")
        ax, ay = (a % len(s) for a, s in zip(self.axes, shapes))
        if 0 in (ax, ay) or None not in (shapes[0][ax], shapes[1][ay]) and shapes[0][ax] != shapes[1][ay]:
            raise LstmkitError(f"{self.name or 'dot'}: axes {self.axes} must be non-batch axes of one size, "
                               f"got shapes {[tuple(s) for s in shapes]}")

    def merge(self, xs):
        x, y = xs
        ax, ay = self.axes[0] % x.dim(), self.axes[1] % y.dim()
        if self.normalize:
            x, y = F.normalize(x, dim=ax, eps=1e-12), F.normalize(y, dim=ay, eps=1e-12)
        xm, ym = x.movedim(ax, -1), y.movedim(ay, 1)  # (B, X..., K), (B, K, Y...)
        B, K = x.shape[0], xm.shape[-1]
        out = xm.reshape(B, -1, K) @ ym.reshape(B, K, -1)
        out = out.reshape(B, *xm.shape[1:-1], *ym.shape[2:])
        return out[:, None] if out.dim() == 1 else out

    def compute_output_shape(self, input_shape):
        (sx, sy), (ax, ay) = input_shape, (a % len(s) for a, s in zip(self.axes, input_shape))
        rest = [d for k, d in enumerate(sx) if k not in (0, ax)] + [d for k, d in enumerate(sy) if k not in (0, ay)]
        return (sx[0], *rest) if rest else (sx[0], 1)

    def compute_mask(self, x, mask):
        return None

    def get_config(self):
        return {"name": self.name, "axes": list(self.axes), "normalize": self.normalize}


def _joined_masks(xs, masks):
    """Masks of inputs joined along the time axis: each input's (B, T_i) mask, all-True where it has none."""
    return torch.cat([m if m is not None else torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
                      for x, m in zip(xs, masks)], dim=1)


def _agree(dims, mismatch: Exception):
    """The one size that the known (not None) sizes share, None if none is known; else raise `mismatch`."""
    known = {d for d in dims if d is not None}
    if len(known) > 1:
        raise mismatch
    return known.pop() if known else None
