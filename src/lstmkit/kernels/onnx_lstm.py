"""torch's LSTM, GRU and RNN ops as ONNX's `LSTM`, `GRU` and `RNN` nodes under the dynamo ONNX exporter,
with symbolic batch and time.

`torch.onnx.export(..., dynamo=True)` captures the model with torch.export, where torch's LSTM op is
traced through its per-step decomposition and so fixes the time axis to the example's length. Emitting
ONNX's LSTM directly (`torch.onnx.ops.symbolic_multi_out`, torch's way to place an ONNX op in the
captured graph) keeps both axes dynamic. The TorchScript exporter translates torch's op itself.

ONNX's LSTM (opset 7+): X (T, B, I); W (D, 4H, I), R (D, 4H, H), B (D, 8H) = [W_b, R_b], gates in
(i, o, f, c) order; optional sequence_lens, initial_h, initial_c (D, B, H). Outputs Y (T, D, B, H),
Y_h and Y_c (D, B, H). One node per layer; directions are ONNX's `direction` attribute.

ONNX's GRU: gates (z, r, h), i.e. torch's (r, z, n) with the first two swapped; `linear_before_reset=1`
is torch's form (Keras' reset_after=True), 0 is Keras' reset_after=False, W_hn (r ⊙ h) + b_hn, which
is lstmkit's reset-before math (`cells.gru`) exactly. ONNX's RNN takes the nonlinearity as its
`activations` attribute (Tanh or Relu, one per direction). Both: Y (T, D, B, H), Y_h (D, B, H).
"""
import torch

from .. import gates

OPSET = 14  # the LSTM op's latest revision (layout attribute); any opset from 14 on carries it


def run(x, hx, weights, config, lengths=None):
    """x (T, B, I) -> (y (T, B, D*H), (h_n (L*D, B, H), c_n (L*D, B, H))); see `lstmkit.kernels`.

    `lengths` (B,), the lengths of right-padded sequences (0 to T), become ONNX's `sequence_lens`: the padded
    steps output zeros and leave the state alone, what a PackedSequence or a right-padding step mask
    does in torch.
    """
    h0, c0 = hx
    lens = None if lengths is None else lengths.to(torch.int32)
    D = 2 if config.bidirectional else 1
    T, B, _ = x.shape
    H = weights[0].hidden_size
    h_n, c_n = [], []
    for layer in range(config.num_layers):
        ws, k = weights[layer * D:(layer + 1) * D], slice(layer * D, (layer + 1) * D)
        W = torch.stack([gates.to_onnx(w.weight_ih) for w in ws])  # (D, 4H, I)
        R = torch.stack([gates.to_onnx(w.weight_hh) for w in ws])  # (D, 4H, H)
        bias = None
        if config.bias:
            bias = torch.stack([torch.cat([gates.to_onnx(w.bias_ih), gates.to_onnx(w.bias_hh)]) for w in ws])
        y, h, c = torch.onnx.ops.symbolic_multi_out(
            "LSTM", [x, W, R, bias, lens, h0[k], c0[k]],
            {"hidden_size": H, "direction": "bidirectional" if D == 2 else "forward"},
            dtypes=[x.dtype] * 3, shapes=[(T, D, B, H), (D, B, H), (D, B, H)], version=OPSET)
        x = y.permute(0, 2, 1, 3).reshape(T, B, D * H)  # (T, B, D*H), directions side by side as torch
        h_n.append(h)
        c_n.append(c)
    return x, (torch.cat(h_n), torch.cat(c_n))


def run_single_state(x, h0, weights, config, lengths=None):
    """GRU or simple RNN: x (T, B, I) -> (y (T, B, D*H), h_n (L*D, B, H)); see `lstmkit.kernels`."""
    D = 2 if config.bidirectional else 1
    T, B, _ = x.shape
    H = weights[0].weight_hh.shape[1]
    lens = None if lengths is None else lengths.to(torch.int32)
    attrs = {"hidden_size": H, "direction": "bidirectional" if D == 2 else "forward"}
    if config.cell == "gru":
        op, order = "GRU", _gru_to_onnx
        attrs["linear_before_reset"] = int(config.reset_after)
    else:
        op, order = "RNN", (lambda t: t)
        attrs["activations"] = ["Relu" if config.cell == "rnn_relu" else "Tanh"] * D
    h_n = []
    for layer in range(config.num_layers):
        ws, k = weights[layer * D:(layer + 1) * D], slice(layer * D, (layer + 1) * D)
        W = torch.stack([order(w.weight_ih) for w in ws])  # (D, G*H, I)
        R = torch.stack([order(w.weight_hh) for w in ws])  # (D, G*H, H)
        bias = None
        if config.bias:
            bias = torch.stack([torch.cat([order(w.bias_ih), order(w.bias_hh)]) for w in ws])  # (D, 2*G*H)
        y, h = torch.onnx.ops.symbolic_multi_out(
            op, [x, W, R, bias, lens, h0[k]], attrs, dtypes=[x.dtype] * 2, shapes=[(T, D, B, H), (D, B, H)],
            version=OPSET)
        x = y.permute(0, 2, 1, 3).reshape(T, B, D * H)  # (T, B, D*H)
        h_n.append(h)
    return x, torch.cat(h_n)


def _gru_to_onnx(t):
    """(r, z, n) -> ONNX's (z, r, h) along dim 0."""
    H = t.shape[0] // 3
    return torch.cat([t[H:2 * H], t[:H], t[2 * H:]])

