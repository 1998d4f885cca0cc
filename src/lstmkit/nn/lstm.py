"""`lstmkit.nn.LSTM`: a drop-in for torch.nn.LSTM (same arguments, parameters, inputs and outputs)
that runs on lstmkit's kernels."""
import math

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from .. import kernels
from ..kernels import mixed, ops
from ..cells import LayerWeights
from ..cells.lstm_variant import VariantSpec, VariantWeights
from . import init as _init
from ..errors import LstmkitError
from . import variants
from .checks import check_hx, check_input, check_lstm_args


class LSTM(nn.Module):
    """Multi-layer LSTM with torch.nn.LSTM's constructor, parameter names, forward and outputs.

    Args:
        input_size: I, features per step.
        hidden_size: H.
        num_layers: stacked layers (default 1).
        bias: learn b_ih and b_hh (default True).
        batch_first: input and output as (B, T, ·) rather than (T, B, ·).
        dropout: dropout on the outputs of every layer but the last (training only).
        bidirectional: a second, time-reversed direction per layer; outputs are concatenated.
        proj_size: P > 0 projects h to P features (W_hr), as in torch.
        device, dtype: where and how the parameters are created.
        engine: "auto" (fastest kernel that supports the configuration), "native", "fused",
            "compiled" or "reference" (keyword-only). A named kernel that cannot run a call raises
            KernelUnavailable.
        recurrent_dropout: variational dropout on h during training, one mask per sequence
            (keyword-only; runs on the fused kernel).
        init: "torch" (uniform ±1/sqrt(H), torch's default) or "keras" (glorot-uniform input weights,
            orthogonal recurrent weights, forget-gate bias 1) (keyword-only).
        peephole, cifg, layer_norm, zoneout, activation, recurrent_activation: the LSTM variants
            (keyword-only; the rule and the parameters they add are in `lstmkit.nn.variants`, the
            equations in `cells/lstm_variant.py`). zoneout is z or (z_c, z_h). Each combines with
            proj_size as torch's rule has it: W_hr projects the emitted h (the output and the
            recurrent input), so zoneout on h acts on the projected (P-wide) h, while the peepholes
            and the layer norm of c see the H-wide c. Every variant kernel runs it.

    Inputs: input (T, B, I), (B, T, I) with batch_first, (T, I) unbatched, or a PackedSequence;
        optionally (h0, c0) of shapes (D*num_layers, B, P or H) and (D*num_layers, B, H).
    Outputs: output (T, B, D*(P or H)) (or packed), (h_n, c_n) shaped like (h0, c0).

    Example:
        >>> import torch, lstmkit
        >>> lstm = lstmkit.nn.LSTM(10, 20, num_layers=2)
        >>> y, (h, c) = lstm(torch.randn(5, 3, 10))
        >>> tuple(y.shape), tuple(h.shape)
        ((5, 3, 20), (2, 3, 20))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None, *,
                 engine="auto", recurrent_dropout=0.0, init="torch",
                 peephole=False, cifg=False, layer_norm=False, zoneout=0.0, activation="tanh",
                 recurrent_activation="sigmoid"):
        super().__init__()
        _check_args(input_size, hidden_size, num_layers, dropout, proj_size, engine,
                    recurrent_dropout, init)
        self.spec = variants.parse(peephole, cifg, layer_norm, zoneout, activation, recurrent_activation)
        G = len(self.spec.gates)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        self.engine, self.recurrent_dropout = engine, float(recurrent_dropout)
        factory = {"device": device, "dtype": dtype}
        out = proj_size or hidden_size
        self._names = []
        for layer in range(num_layers):
            for suffix in ("", "_reverse")[: 2 if bidirectional else 1]:
                fan_in = input_size if layer == 0 else out * (2 if bidirectional else 1)
                shapes = {"weight_ih": (G * hidden_size, fan_in), "weight_hh": (G * hidden_size, out)}
                if bias:
                    shapes.update(bias_ih=(G * hidden_size,), bias_hh=(G * hidden_size,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                shapes.update(variants.extra_shapes(self.spec, hidden_size))
                names = {k: f"{k}_l{layer}{suffix}" for k in shapes}
                for k, shape in shapes.items():
                    self.register_parameter(names[k], nn.Parameter(torch.empty(shape, **factory)))
                self._names.append(names)
        self.init = init
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise every weight with the scheme chosen by `init`."""
        if self.spec != VariantSpec():
            for w in self.layer_weights():
                variants.reset(w, self.spec, self.init)
            return
        if self.init == "keras":
            for w in self.layer_weights():
                _init.keras_(w)
            return
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-bound, bound)

    def layer_weights(self) -> list[LayerWeights] | list[VariantWeights]:
        """One LayerWeights (VariantWeights for a variant) per layer and direction, in torch's order."""
        kind = LayerWeights if self.spec == VariantSpec() else VariantWeights
        return [kind(**{k: getattr(self, n) for k, n in names.items()}) for names in self._names]

    def kernel_config(self, masked=False, packed=False, batch=0) -> kernels.KernelConfig:
        """The configuration the kernels are chosen for and run with (dropouts only while training)."""
        p, rp = (self.dropout, self.recurrent_dropout) if self.training else (0.0, 0.0)
        return ops.captured(kernels.KernelConfig(self.num_layers, self.bidirectional, self.proj_size,
                                                 self.bias, p, rp, masked, self.weight_ih_l0.dtype, packed,
                                                 self.training, hidden_size=self.hidden_size, batch=batch,
                                                 **variants.config_fields(self.spec)))

    def select_kernel(self, masked=False, packed=False):
        """(kernel, reason) for the current parameters and mode; see `kernels.select`."""
        return kernels.select(self.kernel_config(masked, packed), self.weight_ih_l0.device, self.engine)

    def forward(self, input, hx=None, *, mask=None):
        """Run the stack; see the class docstring. `mask` (B, T) or (T, B) like the input, bool:
        False steps change no state and output zeros (keyword-only, not in torch.nn.LSTM)."""
        packed = isinstance(input, PackedSequence)
        x, lengths, unbatched = self._to_time_major(input)
        check_input(x, self.input_size, self.weight_ih_l0, "input")
        batch = x.shape[1]
        if mask is not None:
            mask = self._mask_time_major(mask, x, unbatched)
        hx = self._initial_state(hx, batch, x, unbatched, lengths is not None)
        config = self.kernel_config(mask is not None, lengths is not None, batch)
        kernel, _ = kernels.select(config, self.weight_ih_l0.device, self.engine)
        y, (h, c) = mixed.run(kernel, x, hx, self.layer_weights(), config, self.training, mask=mask,
                               lengths=lengths)
        if packed:
            return _repack(y, lengths, input), (h, c)
        if unbatched:
            return y.squeeze(1), (h.squeeze(1), c.squeeze(1))
        return (y.transpose(0, 1) if self.batch_first else y), (h, c)

    def _to_time_major(self, input):
        """-> (x (T, B, I), lengths (B,) or None, unbatched)."""
        if isinstance(input, PackedSequence):
            x, lengths = pad_packed_sequence(input)  # (T, B, I), original batch order
            return x, lengths, False
        if not isinstance(input, torch.Tensor):
            raise LstmkitError(f"input: expected a tensor or PackedSequence, got {type(input).__name__}")
        if input.dim() == 2:
            return input.unsqueeze(1), None, True  # (T, 1, I)
        if input.dim() != 3:
            raise LstmkitError(f"input: expected shape (T, B, {self.input_size}) or (T, "
                               f"{self.input_size}), got {tuple(input.shape)} ({input.dim()}-D)")
        return (input.transpose(0, 1) if self.batch_first else input), None, False

    def _mask_time_major(self, mask, x, unbatched):
        mask = mask.to(device=x.device, dtype=torch.bool)
        if unbatched:
            mask = mask.unsqueeze(1)
        elif self.batch_first:
            mask = mask.transpose(0, 1)
        if mask.shape != x.shape[:2]:
            raise LstmkitError(f"mask: expected shape {tuple(x.shape[:2])} (time-major), "
                               f"got {tuple(mask.shape)}")
        return mask

    def _initial_state(self, hx, batch, x, unbatched, packed):
        layers = self.num_layers * (2 if self.bidirectional else 1)
        out = self.proj_size or self.hidden_size
        if hx is None:
            h = x.new_zeros(layers, batch, out)
            return h, x.new_zeros(layers, batch, self.hidden_size)
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise LstmkitError("hx: expected a tuple (h0, c0)")
        h0, c0 = hx
        if unbatched:
            h0, c0 = check_hx(h0, (layers, out), x, "h0"), check_hx(c0, (layers, self.hidden_size), x, "c0")
            return h0.unsqueeze(1), c0.unsqueeze(1)
        return (check_hx(h0, (layers, batch, out), x, "h0"),
                check_hx(c0, (layers, batch, self.hidden_size), x, "c0"))

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        for k, default in (("num_layers", 1), ("bias", True), ("batch_first", False), ("dropout", 0.0),
                           ("bidirectional", False), ("proj_size", 0), ("engine", "auto"),
                           ("recurrent_dropout", 0.0)):
            if getattr(self, k) != default:
                s += f", {k}={getattr(self, k)!r}"
        return s + "".join(f", {name}" for name in self.spec.names())


def _repack(y, lengths, like: PackedSequence) -> PackedSequence:
    """Padded (T, B, ·) output in original batch order -> a PackedSequence laid out like `like`."""
    order = like.sorted_indices
    if order is not None:
        y, lengths = y.index_select(1, order), lengths[order.cpu()]
    valid = torch.arange(y.shape[0])[:, None] < lengths[None, :]  # (T, B), time-major like packed data
    return PackedSequence(y[valid.to(y.device)], like.batch_sizes, like.sorted_indices,
                          like.unsorted_indices)


def _check_args(input_size, hidden_size, num_layers, dropout, proj_size, engine, recurrent_dropout,
                init):
    check_lstm_args([("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)],
                    [("dropout", dropout), ("recurrent_dropout", recurrent_dropout)], engine)
    if not isinstance(proj_size, int) or proj_size < 0 or (proj_size and proj_size >= hidden_size):
        raise LstmkitError(f"proj_size: expected an int with 0 <= proj_size < hidden_size "
                           f"({hidden_size}), got {proj_size!r}")
    if init not in ("torch", "keras"):
        raise LstmkitError(f"init: expected 'torch' or 'keras', got {init!r}")
