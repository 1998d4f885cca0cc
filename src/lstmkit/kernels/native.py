"""torch's own fused LSTM op: oneDNN on CPU, cuDNN on GPU, for the configurations it supports."""
import torch
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
