r"""The LSTM with its variants as options: peephole, CIFG, layer norm, zoneout, any activations.

Symbols as in `cells/lstm.py`; σ_r is the recurrent activation (default sigmoid), φ the activation
(default tanh), both by Keras name (`activations.py`). G is 4 gate blocks (i, f, g, o), or 3 (i, g, o)
with the coupled gate. Optional terms are in brackets; each is defined in its own file
(`peephole.py`, `cifg.py`, `layer_norm.py`, `zoneout.py`):

    z_t = [LN](W_ih x_t) + [LN](W_hh h_{t-1}) + b         (G·H) pre-activations, b = b_ih + b_hh
    i_t = σ_r(z_i + [p_i ⊙ c_{t-1}])
    f_t = σ_r(z_f + [p_f ⊙ c_{t-1}])     or  f_t = 1 - i_t  with CIFG
    g_t = φ(z_g)
    c̃_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    o_t = σ_r(z_o + [p_o ⊙ c̃_t])
    r_t = o_t ⊙ φ([LN](c̃_t))                               (H)
    h̃_t = [W_hr] r_t                                        (P with proj_size P, else r_t)
    c_t = [zoneout](c_{t-1}, c̃_t),  h_t = [zoneout](h_{t-1}, h̃_t);  the output is h_t

With every option off this is exactly `cells/lstm.py` (and torch.nn.LSTM), projection included.
The projection (proj_size P, W_hr (P, H)) applies to the emitted h, as in torch: h is P wide, so
W_hh is (G·H, P), the recurrent dropout and h's zoneout masks are (B, P) (zoneout on h keeps units of
the projected h), while c, the peepholes (which see c) and the layer norm of c stay H wide.

Example:
    >>> import torch
    >>> from lstmkit.cells.lstm_variant import VariantSpec, VariantWeights, input_projection, step
    >>> spec = VariantSpec(peephole=True, cifg=True)
    >>> H, I = 4, 3
    >>> w = VariantWeights(torch.randn(3 * H, I), torch.randn(3 * H, H), peephole=torch.randn(2, H))
    >>> xw = input_projection(torch.randn(1, 2, I), w, spec)[0]
    >>> h, (h, c) = step(xw, (torch.zeros(2, H), torch.zeros(2, H)), w, spec)
    >>> tuple(h.shape)
    (2, 4)
"""
from dataclasses import dataclass

import torch

from . import activations, cifg, layer_norm, peephole, zoneout
from ..gates import GATES


@dataclass(frozen=True)
class VariantSpec:
    """Which variant options are on. The defaults are the standard LSTM."""
    peephole: bool = False
    cifg: bool = False
    layer_norm: bool = False
    zoneout_c: float = 0.0
    zoneout_h: float = 0.0
    activation: str = "tanh"
    recurrent_activation: str = "sigmoid"

    @property
    def gates(self) -> tuple[str, ...]:
        return cifg.GATES if self.cifg else GATES

    def names(self) -> list[str]:
        """The options that differ from the standard LSTM, e.g. ['peephole', 'zoneout_c', 'activation=relu']."""
        out = [k for k in ("peephole", "cifg", "layer_norm") if getattr(self, k)]
        out += [k for k in ("zoneout_c", "zoneout_h") if getattr(self, k)]  # no value: symbolic under torch.compile
        out += [f"{k}={getattr(self, k)}" for k, d in (("activation", "tanh"), ("recurrent_activation", "sigmoid"))
                if getattr(self, k) != d]
        return out


@dataclass(frozen=True)
class VariantWeights:
    """One layer and direction. Shapes: weight_ih (G·H, I), weight_hh (G·H, P or H), biases (G·H,),
    peephole (2 or 3, H), ln_ih / ln_hh (G·H,) gains γ_x, γ_h, ln_c_weight / ln_c_bias (H,) γ_c, β_c,
    weight_hr (P, H) the projection W_hr (None without one)."""
    weight_ih: torch.Tensor
    weight_hh: torch.Tensor
    bias_ih: torch.Tensor | None = None
    bias_hh: torch.Tensor | None = None
    peephole: torch.Tensor | None = None
    ln_ih: torch.Tensor | None = None
    ln_hh: torch.Tensor | None = None
    ln_c_weight: torch.Tensor | None = None
    ln_c_bias: torch.Tensor | None = None
    weight_hr: torch.Tensor | None = None

    @property
    def hidden_size(self) -> int:
        """H, the width of c."""
        return self.weight_hh.shape[1] if self.weight_hr is None else self.weight_hr.shape[1]

    @property
    def output_size(self) -> int:
        """P with a projection, else H: the width of h."""
        return self.weight_hh.shape[1]

    @property
    def bias(self) -> torch.Tensor | None:
        """b_ih + b_hh, or None without biases."""
        return None if self.bias_ih is None else self.bias_ih + self.bias_hh


def input_projection(x: torch.Tensor, w: VariantWeights, spec: VariantSpec) -> torch.Tensor:
    """[LN](W_ih x_t) + b for every step: (T, B, I) -> (T, B, G·H)."""
    xw = torch.matmul(x, w.weight_ih.t())  # (T, B, G·H)
    if spec.layer_norm:
        xw = layer_norm.norm(xw, w.ln_ih)
    return xw if w.bias_ih is None else xw + w.bias


def step(xw_t, state, w: VariantWeights, spec: VariantSpec, d_c=None, d_h=None, h_in=None):
    """One step of the variant LSTM.

    Args:
        xw_t: (B, G·H) input projection for this step (`input_projection`).
        state: (h_{t-1} (B, P or H), c_{t-1} (B, H)).
        w, spec: the layer's weights and options.
        d_c, d_h: this step's zoneout masks, (B, H) and (B, P or H), the float z at inference, or None.
        h_in: h_{t-1} as the recurrent GEMM sees it (recurrent dropout applied); default h_{t-1}.

    Returns:
        (h_t, (h_t, c_t)).
    """
    h, c = state
    act, rec = activations.get(spec.activation), activations.get(spec.recurrent_activation)
    hw = (h if h_in is None else h_in) @ w.weight_hh.t()  # (B, G·H)
    z = xw_t + (layer_norm.norm(hw, w.ln_hh) if spec.layer_norm else hw)
    zs = dict(zip(spec.gates, z.chunk(len(spec.gates), dim=1)))
    peep = (lambda gate, cell: peephole.term(w.peephole, gate, cell, spec.cifg)) if spec.peephole else None
    i = rec.fn(zs["i"] + peep("i", c) if peep else zs["i"])
    if spec.cifg:
        f = cifg.forget(i)
    else:
        f = rec.fn(zs["f"] + peep("f", c) if peep else zs["f"])
    g = act.fn(zs["g"])
    c_new = f * c + i * g
    o = rec.fn(zs["o"] + peep("o", c_new) if peep else zs["o"])
    u = layer_norm.norm(c_new, w.ln_c_weight, w.ln_c_bias) if spec.layer_norm else c_new
    r = o * act.fn(u)
    h_new = r if w.weight_hr is None else r @ w.weight_hr.t()  # (B, P) with a projection
    c_t, h_t = zoneout.mix(d_c, c, c_new), zoneout.mix(d_h, h, h_new)
    return h_t, (h_t, c_t)
