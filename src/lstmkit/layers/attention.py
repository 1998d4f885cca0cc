"""Keras-style attention: Attention (Luong), AdditiveAttention (Bahdanau), MultiHeadAttention.

For a query q (B, Tq, D), keys k (B, Tv, D) (default: the values) and values v (B, Tv, Dv):
    Attention, 'dot'       scores = scale * q kᵀ                                  (scale: 1 unless use_scale)
    Attention, 'concat'    scores = w * sum_d tanh(scale * (q_t + k_s))           (w: a learned scalar)
    AdditiveAttention      scores = sum_d u_d tanh(q_t + k_s)_d                   (u: learned, use_scale)
    MultiHeadAttention     per head h: q_h = q W_q^h + b, k_h, v_h likewise,
                           scores_h = q_h k_hᵀ / sqrt(key_dim), output = concat_h(a_h v_h) W_o + b_o
    a = softmax(scores - 1e9 * [masked]) over the keys; output = a v
Masked keys (a value mask False, or later steps with use_causal_mask) get no weight; masked
queries output zeros (Attention) and the query's mask is the output's mask.

Example:
    >>> import torch
    >>> from lstmkit.layers import Attention, MultiHeadAttention
    >>> q, v = torch.randn(2, 3, 4), torch.randn(2, 5, 4)
    >>> Attention()([q, v]).shape, MultiHeadAttention(2, 8)(q, v).shape
    (torch.Size([2, 3, 4]), torch.Size([2, 3, 4]))
"""
import math

import torch
import torch.nn.functional as F

from .. import initializers
from ..errors import LstmkitError
from .base import Layer, default_name, initialize, is_symbolic

BIG = 1e9  # Keras' large number for masked scores (float32)


def _masked_softmax(scores, keep):
    """softmax over the last axis after subtracting BIG where `keep` is False (keep broadcasts)."""
    if keep is not None:
        scores = scores - BIG * (~keep).to(scores.dtype)
    return torch.softmax(scores, dim=-1)


def attention_dropout(a, rate, gen):
    """Dropout on attention weights, repeatable when `gen` (a seeded torch.Generator) is given."""
    if gen is None:
        return F.dropout(a, rate)
    keep = torch.empty(a.shape, dtype=a.dtype).bernoulli_(1 - rate, generator=gen).div_(1 - rate)
    return a * keep.to(a.device)


def _causal(Tq, Tv, device):
    return torch.ones(Tq, Tv, dtype=torch.bool, device=device).tril()  # step t sees keys <= t


class Attention(Layer):
    """Luong-style dot-product attention over [query, value] or [query, value, key].

    Args:
        use_scale: learn a scalar that multiplies the scores (initialised to 1).
        score_mode: 'dot' (default) or 'concat' (see the module docstring).
        dropout: dropout on the attention weights while training.
        seed: makes the dropout masks repeatable.

    Call: `layer([query, value(, key)], mask=[query_mask, value_mask], return_attention_scores=False,
    use_causal_mask=False)`.
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, input_shape=None,
                 name=None):
        super().__init__(input_shape, name)
        if score_mode not in ("dot", "concat"):
            raise LstmkitError(f"score_mode: expected 'dot' or 'concat', got {score_mode!r}")
        if not 0 <= dropout < 1:
            raise LstmkitError(f"dropout: expected a probability in [0, 1), got {dropout!r}")
        self.use_scale, self.score_mode, self.dropout, self.seed = use_scale, score_mode, float(dropout), seed
        self._gen = torch.Generator().manual_seed(seed) if seed is not None else None
        self.weight_layout = tuple((a, False) for a, on in (("scale", use_scale),
                                                             ("concat_score_weight", score_mode == "concat")) if on)
        self.build(None)

    def build(self, input_shape):
        self.scale = torch.nn.Parameter(torch.ones(())) if self.use_scale else None
        self.concat_score_weight = torch.nn.Parameter(torch.ones(())) if self.score_mode == "concat" else None
        self.built = True

    def scores(self, q, k):
        if self.score_mode == "dot":
            s = q @ k.transpose(-2, -1)  # (B, Tq, Tv)
            return s * self.scale if self.scale is not None else s
        summed = q[:, :, None] + k[:, None]  # (B, Tq, Tv, D)
        if self.scale is not None:
            summed = self.scale * summed
        return self.concat_score_weight * torch.tanh(summed).sum(-1)

    def forward(self, inputs, mask=None, return_attention_scores=False, use_causal_mask=False, training=None):
        q, v, k = _unpack(self, inputs)
        q_mask, v_mask = (list(mask) + [None, None])[:2] if mask is not None else (None, None)
        s = self.scores(q, k)
        keep = v_mask[:, None, :] if v_mask is not None else None  # (B, 1, Tv)
        if use_causal_mask:
            causal = _causal(s.shape[-2], s.shape[-1], s.device)[None]
            keep = causal if keep is None else keep & causal
        a = _masked_softmax(s, keep)
        if self.dropout and (self.training if training is None else training):
            a = attention_dropout(a, self.dropout, self._gen)
        out = a @ v  # (B, Tq, Dv)
        if q_mask is not None:
            out = out * q_mask[..., None].to(out.dtype)
        return (out, a) if return_attention_scores else out

    def compute_mask(self, x, mask):
        return mask[0] if mask is not None else None

    def compute_output_shape(self, input_shape):
        q, v = input_shape[0], input_shape[1]
        return (*q[:-1], v[-1])

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout, "seed": self.seed}


class AdditiveAttention(Attention):
    """Bahdanau-style additive attention over [query, value(, key)] (see the module docstring).

    Args:
        use_scale: learn the vector u (Keras' glorot_uniform, shape (D,)); otherwise u = 1.
        dropout: dropout on the attention weights while training.
    """

    def __init__(self, use_scale=True, dropout=0.0, seed=None, input_shape=None, name=None):
        super().__init__(use_scale, "dot", dropout, seed, input_shape, name)
        self.weight_layout = (("scale", False),) if use_scale else ()
        self.built = False

    def build(self, input_shape):
        self.concat_score_weight = None
        self.scale = None
        if self.use_scale:
            shapes = input_shape if input_shape and isinstance(input_shape[0], (list, tuple)) else None
            if shapes is None or shapes[0][-1] is None:
                return  # built from the first inputs
            self.scale = torch.nn.Parameter(torch.empty(int(shapes[0][-1])))
            initialize(self.scale, initializers.GlorotUniform(), "scale")
        self.built = True

    def forward(self, inputs, mask=None, return_attention_scores=False, use_causal_mask=False, training=None):
        if not self.built:
            self.build([tuple(t.shape) for t in inputs])
            self.to(inputs[0].device)
        return super().forward(inputs, mask, return_attention_scores, use_causal_mask, training)

    def scores(self, q, k):
        t = torch.tanh(q[:, :, None] + k[:, None])  # (B, Tq, Tv, D)
        return (t * self.scale).sum(-1) if self.scale is not None else t.sum(-1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config


def _unpack(layer, inputs):
    if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
        raise LstmkitError(f"{layer.name or default_name(layer)}: expected a list [query, value] or "
                           f"[query, value, key], got {type(inputs).__name__}")
    q, v = inputs[0], inputs[1]
    return q, v, (inputs[2] if len(inputs) == 3 else v)
