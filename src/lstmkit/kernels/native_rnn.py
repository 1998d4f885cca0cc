"""torch's own GRU and simple-RNN ops (`torch.gru`, `torch.rnn_tanh`, `torch.rnn_relu`), packed input too."""
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from . import native, onnx_lstm

_OPS = {"gru": torch.gru, "rnn_tanh": torch.rnn_tanh, "rnn_relu": torch.rnn_relu}


def unsupported(config, device):
    """Why torch's op cannot run `config`, or None."""
    if config.cell == "gru" and not config.reset_after and not _dynamo_onnx(config):
        return "torch's GRU op has only the reset-after form (Keras' reset_after=True)" + (
            "; ONNX's GRU has the reset-before form too (linear_before_reset=0), through the dynamo "
            "exporter: torch.onnx.export(..., dynamo=True)" if config.capture == "onnx" else "")
    if config.recurrent_dropout > 0:
        return "recurrent dropout is not part of torch's op"
    if config.masked:
        return "an arbitrary step mask (e.g. left padding) is not part of torch's op"
    if config.dtype not in native._DTYPES:
        return f"dtype {config.dtype} is not supported"
    if config.dtype == torch.float16 and torch.device(device).type == "cpu":
        return "float16 is not supported on the CPU"
    return None


def _dynamo_onnx(config):
    return config.capture == "onnx" and torch.compiler.is_compiling()


def run(x, hx, weights, config, training, mask=None, lengths=None):
    """See `lstmkit.kernels` for the contract (single-state cells: hx is h0, returns (y, h_n))."""
    if _dynamo_onnx(config):  # ONNX's GRU / RNN node, batch and time left dynamic
        return onnx_lstm.run_single_state(x, hx, weights, config, lengths)
    flat = []
    for w in weights:
        flat += [w.weight_ih, w.weight_hh] + ([w.bias_ih, w.bias_hh] if config.bias else [])
    op = _OPS[config.cell]
    args = (config.bias, config.num_layers, config.dropout, training, config.bidirectional)
    if lengths is None:
        return op(x, hx, flat, *args, False)
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    y, h = op(packed.data, packed.batch_sizes, hx.index_select(1, packed.sorted_indices), flat, *args)
    y, _ = pad_packed_sequence(packed._replace(data=y), total_length=x.shape[0])
    return y, h.index_select(1, packed.unsorted_indices)
