"""torch's own fused LSTM op: oneDNN on CPU, cuDNN on GPU, for the configurations it supports."""
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from . import onnx_lstm, ops, reference_variants

name = "native"
_DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)


def unsupported(config, device):
    """Why torch's op cannot run `config`, or None."""
    if config.cell in ("minlstm", "mingru"):
        return f"torch has no {config.cell} op"
    if reference_variants.is_variant(config):
        return "torch's op has no LSTM with " + ", ".join(reference_variants.spec(config).names())
    if config.cell != "lstm":
        from . import native_rnn  # here: it builds on this module
        return native_rnn.unsupported(config, device)
    if config.capture == "compile" and (config.training or config.packed):
        return ("under torch.compile and torch.export lstmkit runs torch's op as a custom op for inference "
                "(no gradient, e.g. in torch.no_grad()) on padded input only")
    if config.recurrent_dropout > 0:
        return "recurrent dropout is not part of torch's LSTM op" + _ONNX_HINTS["eval"] * _onnx(config)
    if config.masked:
        return ("an arbitrary step mask (e.g. left padding) is not part of torch's LSTM op"
                + _ONNX_HINTS["mask"] * _onnx(config))
    if config.proj_size and _onnx(config):
        return "ONNX's LSTM op has no projection (proj_size); export a model with proj_size=0"
    if config.dtype not in _DTYPES:
        return f"dtype {config.dtype} is not supported"
    if config.dtype == torch.float16 and torch.device(device).type == "cpu":
        return "float16 is not supported on the CPU"
    return None


_ONNX_HINTS = {
    "eval": " (export in inference mode: call model.eval() first)",
    "mask": (" nor of ONNX's; export without mask= and pass right-padded batches with their lengths, or "
             "run the model in torch"),
}


def _onnx(config):
    return config.capture == "onnx"


def run(x, hx, weights, config, training, mask=None, lengths=None):
    """See `lstmkit.kernels` for the contract."""
    if config.cell != "lstm":
        from . import native_rnn  # here: it builds on this module
        return native_rnn.run(x, hx, weights, config, training, mask, lengths)
    flat = []
    for w in weights:
        flat += [w.weight_ih, w.weight_hh]
        if config.bias:
            flat += [w.bias_ih, w.bias_hh]
        if config.proj_size:
            flat.append(w.weight_hr)
    if config.capture == "compile":
        y, h, c = ops.native_lstm(x, *hx, flat, config.bias, config.num_layers, config.bidirectional)
        return y, (h, c)
    if config.capture == "onnx" and torch.compiler.is_compiling():  # the dynamo exporter
        return onnx_lstm.run(x, hx, weights, config, lengths)
    args = (config.bias, config.num_layers, config.dropout, training, config.bidirectional)
    if lengths is None:
        y, h, c = torch.lstm(x, hx, flat, *args, False)
        return y, (h, c)
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    order, unorder = packed.sorted_indices, packed.unsorted_indices
    hx = (hx[0].index_select(1, order), hx[1].index_select(1, order))
    y, h, c = torch.lstm(packed.data, packed.batch_sizes, hx, flat, *args)
    y, _ = pad_packed_sequence(packed._replace(data=y), total_length=x.shape[0])
    return y, (h.index_select(1, unorder), c.index_select(1, unorder))


def mixed_unsupported(config, device="cpu"):
    """Why `run_mixed` cannot run `config` on `device`, or None (see `kernels.mixed`)."""
    if torch.device(device).type != "cpu" or not torch.backends.mkldnn.is_available():
        return "oneDNN's LSTM layer op (bfloat16 GEMMs, float32 cell state) runs on the CPU only"
    if config.cell != "lstm" or reference_variants.is_variant(config) or config.proj_size:
        return "oneDNN's LSTM layer op runs the plain LSTM without projection only"
    if config.capture or config.masked or config.recurrent_dropout:
        return "oneDNN's LSTM layer op takes no capture, step mask or recurrent dropout"
    return unsupported(config, device)


def run_mixed(x, hx, weights, config, training, dtype):
    """The LSTM stack on oneDNN's layer op with x, h and the weights in `dtype` (bfloat16) and the
    cell state c in float32, so the gates accumulate in float32 and c keeps its precision over long
    sequences. Same contract as `run`; y and h_n come back in `dtype`, c_n in float32.

    Example:
        >>> from lstmkit import kernels, nn
        >>> lstm = nn.LSTM(4, 8)
        >>> y, (h, c) = run_mixed(torch.randn(3, 2, 4), (torch.zeros(1, 2, 8), torch.zeros(1, 2, 8)),
        ...                       lstm.layer_weights(), lstm.kernel_config(), False, torch.bfloat16)
        >>> y.dtype, c.dtype
        (torch.bfloat16, torch.float32)
    """
    def low(t):  # oneDNN reads plain row-major memory: a transposed view (Keras' kernels) must be copied
        return t.to(dtype, memory_format=torch.contiguous_format)

    h0, c0 = hx
    dirs = 2 if config.bidirectional else 1
    H = weights[0].weight_hh.shape[1]
    zero = weights[0].weight_hh.new_zeros(4 * H, dtype=dtype)
    layer_in, hs, cs = low(x), [], []
    for layer in range(config.num_layers):
        if layer and config.dropout and training:
            layer_in = F.dropout(layer_in, config.dropout, True)
        outs = []
        for d in range(dirs):
            k = layer * dirs + d
            w = weights[k]
            b_ih, b_hh = (low(w.bias_ih), low(w.bias_hh)) if config.bias else (zero, zero)
            y, h, c, _ = torch.ops.aten.mkldnn_rnn_layer(
                layer_in, low(w.weight_ih), low(w.weight_hh), b_ih, b_hh, low(h0[k]),
                c0[k].float().contiguous(), bool(d), [], 2, H, 1, config.bias, False, False, training)  # mode 2: LSTM
            outs.append(y)
            hs.append(h)
            cs.append(c)
        layer_in = outs[0] if dirs == 1 else torch.cat(outs, -1)  # (T, B, D*H)
    return layer_in, (torch.stack(hs), torch.stack(cs))
