"""The LSTM variants as options of `lstmkit.nn.LSTM` and `lstmkit.layers.LSTM`: one rule for both.

The rule: every variant is a keyword-only option of the LSTM (`peephole`, `cifg`, `layer_norm`,
`zoneout`, `activation`, `recurrent_activation`); with all of them at their defaults the layer is the
standard LSTM, parameter for parameter. A variant changes the parameters only where its equations
do (`cells/lstm_variant.py`): CIFG has three gate blocks (i, g, o), so weight_ih is (3H, I); a peephole
adds `peephole` (3 or 2, H); layer norm adds the gains `ln_ih`, `ln_hh` (G·H,) and `ln_c_weight`,
`ln_c_bias` (H,). In `lstmkit.nn.LSTM` these carry the usual `_l{k}[_reverse]` suffix.

`proj_size` combines with every variant as in torch: W_hr (`weight_hr_l{k}`, (P, H)) projects the
emitted h, so h (and with it weight_hh's columns, the recurrent dropout and h's zoneout) is P wide
while c, the peepholes and the layer norm of c stay H wide.
"""
import numbers

import torch
from torch import nn

from ..cells import activations, peephole as peephole_cell
from ..cells.lstm_variant import VariantSpec, VariantWeights
from ..errors import LstmkitError


def parse(peephole=False, cifg=False, layer_norm=False, zoneout=0.0, activation="tanh",
          recurrent_activation="sigmoid") -> VariantSpec:
    """Check the options and return them as a VariantSpec.

    Args:
        zoneout: z for both c and h, or a pair (z_c, z_h); each in [0, 1).
        activation, recurrent_activation: Keras names (`cells/activations.py`); None means 'linear'.
    """
    for arg, value in (("peephole", peephole), ("cifg", cifg), ("layer_norm", layer_norm)):
        if not isinstance(value, bool):
            raise LstmkitError(f"{arg}: expected True or False, got {value!r}")
    pair = tuple(zoneout) if isinstance(zoneout, (tuple, list)) else (zoneout, zoneout)
    if len(pair) != 2 or not all(isinstance(z, numbers.Real) and 0 <= z < 1 for z in pair):
        raise LstmkitError(f"zoneout: expected a probability in [0, 1) or a pair (z_c, z_h) of them, "
                           f"got {zoneout!r}")
    act = activations.get(activation, "activation").name
    rec = activations.get(recurrent_activation, "recurrent_activation").name
    return VariantSpec(peephole, cifg, layer_norm, float(pair[0]), float(pair[1]), act, rec)


def config_fields(spec: VariantSpec) -> dict:
    """The kernels.KernelConfig fields for these options."""
    return {k: getattr(spec, k) for k in ("peephole", "cifg", "layer_norm", "zoneout_c", "zoneout_h",
                                          "activation", "recurrent_activation")}


def extra_shapes(spec: VariantSpec, H: int) -> dict:
    """Shapes of the parameters a variant adds, by VariantWeights field name."""
    G = len(spec.gates)
    shapes = {}
    if spec.peephole:
        shapes["peephole"] = (len(peephole_cell.rows(spec.cifg)), H)
    if spec.layer_norm:
        shapes.update(ln_ih=(G * H,), ln_hh=(G * H,), ln_c_weight=(H,), ln_c_bias=(H,))
    return shapes


@torch.no_grad()
def reset(w: VariantWeights, spec: VariantSpec, init: str) -> None:
    """Initialise one layer in place: "torch" (uniform ±1/sqrt(H)) or "keras" (glorot-uniform input
    weights, orthogonal recurrent weights, zero biases with the forget gate's at 1). Both start the
    peepholes at zero and the layer-norm gains at 1 (shifts at 0), so a new variant layer begins
    close to the standard cell."""
    H = w.hidden_size
    if init == "torch":
        bound = 1.0 / H ** 0.5
        for p in (w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh, w.weight_hr):
            if p is not None:
                p.uniform_(-bound, bound)
    else:
        nn.init.xavier_uniform_(w.weight_ih)
        kernel = torch.empty(w.output_size, w.weight_hh.shape[0], dtype=w.weight_hh.dtype)  # Keras' (P or H, G·H)
        nn.init.orthogonal_(kernel)
        w.weight_hh.copy_(kernel.t())
        if w.bias_ih is not None:
            w.bias_ih.zero_()
            w.bias_hh.zero_()
            if not spec.cifg:
                w.bias_ih[H:2 * H] = 1.0
        if w.weight_hr is not None:
            nn.init.xavier_uniform_(w.weight_hr)
    for p, value in ((w.peephole, 0.0), (w.ln_ih, 1.0), (w.ln_hh, 1.0), (w.ln_c_weight, 1.0), (w.ln_c_bias, 0.0)):
        if p is not None:
            p.fill_(value)
