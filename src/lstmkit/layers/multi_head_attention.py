"""Keras-style MultiHeadAttention (see `layers.attention` for the formulas), with Keras' weight layout:
query/key/value kernels (D, heads, key_dim or value_dim) with biases (heads, dim), and the output
kernel (heads, value_dim, D_out) with bias (D_out,), in that order in get_weights.

Example:
    >>> import torch
    >>> from lstmkit.layers import MultiHeadAttention
    >>> x = torch.randn(2, 6, 16)
    >>> MultiHeadAttention(num_heads=4, key_dim=8)(x, x, use_causal_mask=True).shape
    torch.Size([2, 6, 16])
"""
import math

import torch

from .. import initializers
from ..errors import LstmkitError
from .attention import _causal, _masked_softmax, attention_dropout
from .base import Layer, initialize, is_symbolic

PROJECTIONS = ("query", "key", "value")


class MultiHeadAttention(Layer):
    """Multi-head scaled dot-product attention, called as `layer(query, value, key=None, ...)`.

    Args:
        num_heads: the number of heads.
        key_dim: the size of each head's queries and keys.
        value_dim: the size of each head's values (default key_dim).
        dropout: dropout on the attention weights while training.
        use_bias: learn the projections' biases.
        output_shape: the output's last size (default: the query's).
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
        activity_regularizer, kernel_constraint, bias_constraint: for all four projections.
        seed: makes the dropout masks repeatable.

    Call arguments: query (B, T, D), value (B, S, Dv), key (B, S, Dk) (default value),
    query_mask (B, T), value_mask (B, S), key_mask (B, S), attention_mask (B, T, S) (True: attend),
    return_attention_scores (also return (B, heads, T, S)), use_causal_mask, training.
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, seed=None, input_shape=None, name=None):
        super().__init__(input_shape, name, activity_regularizer)
        for arg, v in (("num_heads", num_heads), ("key_dim", key_dim), ("value_dim", value_dim or key_dim)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise LstmkitError(f"{arg}: expected a positive int, got {v!r}")
        if attention_axes not in (None, 1, (1,), [1]):
            raise LstmkitError(f"attention_axes: lstmkit attends over the time axis only, got {attention_axes!r}")
        if not 0 <= dropout < 1:
            raise LstmkitError(f"dropout: expected a probability in [0, 1), got {dropout!r}")
        self.num_heads, self.key_dim, self.value_dim = num_heads, key_dim, value_dim or key_dim
        self.dropout, self.use_bias, self.output_size, self.seed = float(dropout), use_bias, output_shape, seed
        self._gen = torch.Generator().manual_seed(seed) if seed is not None else None
        self.init_args = (kernel_initializer, bias_initializer)
        self.rules = (kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint)
        names = [f"{p}_{w}" for p in (*PROJECTIONS, "output") for w in ("kernel", "bias")]
        self.weight_layout = tuple((n, False) for n in names if use_bias or n.endswith("kernel"))

    def build(self, input_shape):
        shapes = list(input_shape) if isinstance(input_shape[0], (list, tuple)) else [input_shape]
        q_dim, v_dim = shapes[0][-1], shapes[1][-1] if len(shapes) > 1 else shapes[0][-1]
        k_dim = shapes[2][-1] if len(shapes) > 2 else v_dim
        out_dim = self.output_size if self.output_size else q_dim
        H, kernel_init, bias_init = self.num_heads, *self.init_args
        sizes = {"query": ((q_dim, H, self.key_dim), (H, self.key_dim)),
                 "key": ((k_dim, H, self.key_dim), (H, self.key_dim)),
                 "value": ((v_dim, H, self.value_dim), (H, self.value_dim)),
                 "output": ((H, self.value_dim, out_dim), (out_dim,))}
        k_reg, b_reg, k_con, b_con = self.rules
        for p, (kernel_shape, bias_shape) in sizes.items():
            kernel = torch.nn.Parameter(torch.empty(kernel_shape))
            initialize(kernel, _projection_init(kernel_init, kernel_shape, p), "kernel_initializer")
            setattr(self, f"{p}_kernel", kernel)
            self.set_weight_rules(f"{p}_kernel", k_reg, k_con, "kernel")
            bias = torch.nn.Parameter(torch.empty(bias_shape)) if self.use_bias else None
            if bias is not None:
                initialize(bias, bias_init, "bias_initializer", transposed=False)
                self.set_weight_rules(f"{p}_bias", b_reg, b_con, "bias")
            setattr(self, f"{p}_bias", bias)
        self.built = True

    def __call__(self, query, value=None, key=None, **kwargs):
        if isinstance(query, (list, tuple)):  # the recorded list form, as a saved model's graph replays it
            return super().__call__(list(query), **kwargs)
        if is_symbolic(query):  # the functional API records one list input
            return super().__call__([t for t in (query, value, key) if t is not None], **kwargs)
        return super().__call__(query, value, key, **kwargs)

    def forward(self, query, value=None, key=None, query_mask=None, value_mask=None, key_mask=None,
                attention_mask=None, return_attention_scores=False, use_causal_mask=False, training=None,
                mask=None):
        if isinstance(query, (list, tuple)):  # as recorded by the functional API
            query, value, key = (list(query) + [None])[:3]
        if mask is not None:  # masks carried by the graph: [query_mask, value_mask(, key_mask)]
            query_mask, value_mask, key_mask = (list(mask) + [None, None])[:3]
        key = value if key is None else key
        if not self.built:
            self.build([tuple(query.shape), tuple(value.shape), tuple(key.shape)])
            self.to(query.device)
        q = _project(query, self.query_kernel, self.query_bias) / math.sqrt(self.key_dim)  # (B, T, H, dk)
        k = _project(key, self.key_kernel, self.key_bias)  # (B, S, H, dk)
        v = _project(value, self.value_kernel, self.value_bias)  # (B, S, H, dv)
        scores = torch.einsum("bthd,bshd->bhts", q, k)  # (B, H, T, S)
        keep = _keep_mask(query_mask, value_mask, key_mask, attention_mask, use_causal_mask, scores)
        a = _masked_softmax(scores, keep[:, None] if keep is not None else None)
        if self.dropout and (self.training if training is None else training):
            a = attention_dropout(a, self.dropout, self._gen)
        ctx = torch.einsum("bhts,bshd->bthd", a, v)  # (B, T, H, dv)
        out = torch.einsum("bthd,hdo->bto", ctx, self.output_kernel)
        out = out + self.output_bias if self.output_bias is not None else out
        return (out, a) if return_attention_scores else out

    def compute_mask(self, x, mask):
        return mask[0] if isinstance(mask, (list, tuple)) else mask

    def compute_output_shape(self, input_shape):
        q = input_shape[0] if isinstance(input_shape[0], (list, tuple)) else input_shape
        return (*q[:-1], self.output_size if self.output_size else q[-1])

    def get_config(self):
        k_reg, b_reg, k_con, b_con = self.rules
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "output_shape": self.output_size, "seed": self.seed,
                "kernel_initializer": initializers.serialize(self.init_args[0]),
                "bias_initializer": initializers.serialize(self.init_args[1]),
                **self.rules_config(("query_kernel", "kernel"), ("query_bias", "bias"))}


def _projection_init(init, shape, projection):
    """Keras' EinsumDense draws a projection kernel with the fans of its (in, out...) einsum: a
    VarianceScaling initializer sees the kernel flattened to (in, heads * dim) (output: (heads * dim, D))."""
    fn = initializers.get(init, "kernel_initializer")
    if not isinstance(fn, initializers.VarianceScaling):
        return fn
    flat = (shape[0], math.prod(shape[1:])) if projection != "output" else (math.prod(shape[:2]), shape[2])
    return lambda s, dtype=None: fn(flat, dtype).reshape(s)


def _project(x, kernel, bias):
    y = torch.einsum("btd,dhk->bthk", x, kernel)
    return y + bias if bias is not None else y


def _keep_mask(query_mask, value_mask, key_mask, attention_mask, causal, scores):
    """(B, T, S) bool: True where a query step may attend to a key step (None: everywhere)."""
    keep = None
    for m in (query_mask[:, :, None] if query_mask is not None else None,
              value_mask[:, None, :] if value_mask is not None else None,
              key_mask[:, None, :] if key_mask is not None else None,
              _causal(scores.shape[-2], scores.shape[-1], scores.device)[None] if causal else None,
              attention_mask.bool() if attention_mask is not None else None):
        if m is not None:
            keep = m if keep is None else keep & m
    return keep
