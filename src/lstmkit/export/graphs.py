"""The task networks as the graphs `lstmkit export` writes: what each graph takes and returns.

Each graph computes what the task's torch predictor computes with its network, from the same inputs
the predictor prepares (scaled windows, token ids, features); the preprocessing around it stays in
Python and is described in the JSON file next to the graph. Right-padded batches run ONNX's LSTM
with `sequence_lens` (`kernels.onnx_lstm`), which does what the torch models do with their step
masks and PackedSequences: padded steps output zeros and leave the state alone.

| task       | graph   | inputs                                        | outputs                                  |
|------------|---------|-----------------------------------------------|------------------------------------------|
| forecast   | model   | windows (B, L+H, F) float32                   | quantiles (B, H, T, Q), scaled, unsorted |
| classify   | model   | ids (B, S) int64, 0 = padding (right)         | probabilities (B, C), ensemble mean      |
| translate  | encoder | src (B, S) int64, 0 = padding (right)         | memory (B, S, 2H), keys (B, S, H), h, c (L, B, H) |
| translate  | decoder | token (B, 1) int64, h, c, memory, keys, mask (B, S) bool | logits (B, 1, V), attention (B, 1, S), h_next, c_next |
| transcribe | model   | features (B, T, F) float32, lengths (B,) int64 | log_probs (B, T', V), steps (B,) int64 |
"""
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ..kernels import onnx_lstm
from ..tasks.translate.net import CopySeq2Seq
from ..tasks.translate.text import PAD


@dataclass
class Graph:
    """One graph to export: the module, example inputs, and the names and dynamic axes of each."""
    name: str  # "model", or "encoder" / "decoder" for translate
    module: nn.Module
    # Example inputs: every dynamic axis at least 2 long (torch.export fixes sizes 0 and 1), random (the
    # export is checked on them), and no two the same tensor (the exported graph would alias them).
    example: tuple
    inputs: dict  # input name -> {axis: name} of its dynamic axes
    outputs: tuple  # output names
    reference: Callable  # the same outputs from the torch modules, eager: what the export is checked against


def lstm_lengths(lstm, x, lengths=None, hx=None):
    """A batch-first `lstmkit.nn.LSTM` as ONNX LSTM nodes, right-padded sequences by their lengths.

    Args:
        lstm: the lstmkit.nn.LSTM (batch_first, no projection).
        x: (B, T, I). lengths: (B,) int64, each in [0, T], or None (all T).
        hx: optional (h0, c0), each (L*D, B, H).

    Returns:
        (y (B, T, D*H), (h_n, c_n)), as the LSTM returns under a right-padding step mask.
    """
    if hx is None:
        h0 = x.new_zeros(lstm.num_layers * (2 if lstm.bidirectional else 1), x.shape[0], lstm.hidden_size)
        hx = (h0, h0)
    y, state = onnx_lstm.run(x.transpose(0, 1), hx, lstm.layer_weights(), lstm.kernel_config(), lengths)
    return y.transpose(0, 1), state


class ForecastGraph(nn.Module):
    """The ensemble on scaled windows; the torch path's `Forecaster._run` before adding the bases."""

    def __init__(self, ensemble):
        super().__init__()
        self.ensemble = ensemble

    def forward(self, windows):
        return self.ensemble(windows)  # (B, H, T, Q)


class ClassifyGraph(nn.Module):
    """Token ids -> the ensemble's mean class probabilities (what `Classifier.predict_proba` returns)."""

    def __init__(self, nets):
        super().__init__()
        self.nets = nn.ModuleList(nets)

    def forward(self, ids):
        mask = ids != 0  # (B, S)
        lengths = mask.sum(1)  # an empty text (length 0) keeps the zero state, as under the mask
        probs = []
        for net in self.nets:  # TextClassifier.forward, with the LSTM on lengths instead of the mask
            y, (h, _) = lstm_lengths(net.lstm, net.embedding(ids), lengths)  # (B, S, 2H)
            probs.append(net.output(net.pool(y, h, mask)).softmax(-1))
        return torch.stack(probs).mean(0)  # (B, C)


class EncoderGraph(nn.Module):
    """`Seq2Seq.encode` on right-padded source ids: (memory, keys, h0, c0); the mask is src != 0."""

    def __init__(self, seq2seq):
        super().__init__()
        self.m = seq2seq

    def forward(self, src):
        m = self.m
        lengths = (src != PAD).sum(1).clamp(min=1)
        memory, (h, c) = lstm_lengths(m.encoder, m.embed(src), lengths)  # (B, S, 2H)
        final = torch.cat([h[-2], h[-1], c[-2], c[-1]], -1)  # (B, 4H), as Seq2Seq.encode
        h0, c0 = torch.tanh(m.bridge(final)).chunk(2, -1)  # (B, H) each
        h0 = h0.unsqueeze(0).repeat(m.decoder_layers, 1, 1)  # (L, B, H)
        c0 = c0.unsqueeze(0).repeat(m.decoder_layers, 1, 1)
        keys = m.attn_key(memory)
        if isinstance(m, CopySeq2Seq):  # its decoder copies by id: the ids ride in memory, as CopySeq2Seq.encode
            memory = torch.cat([memory, src[..., None].to(memory.dtype)], -1)  # (B, S, 2H + 1)
        return memory, keys, h0, c0


class DecoderGraph(nn.Module):
    """One step of `Seq2Seq.decode`: (logits, attention, h, c)."""

    def __init__(self, seq2seq):
        super().__init__()
        self.m = seq2seq

    def forward(self, token, h, c, memory, keys, mask):
        logits, attn, (h, c) = self.m.decode(token, (h, c), memory, keys, mask)  # the LSTM on ONNX's op
        return logits, attn, h, c


class TranscribeGraph(nn.Module):
    """`SpeechModel.forward` with the LSTM on the stacked steps' lengths instead of a step mask."""

    def __init__(self, speech_model):
        super().__init__()
        self.m = speech_model

    def forward(self, features, lengths):
        m, (b, t, f) = self.m, features.shape
        pad = (-t) % m.stack
        valid = torch.arange(t)[None, :] < lengths[:, None]  # (B, T)
        x = nn.functional.pad(features * valid[..., None], (0, 0, 0, pad))
        x = x.reshape(b, (t + pad) // m.stack, f * m.stack)  # (B, T', stack*F)
        steps = (lengths + m.stack - 1) // m.stack  # (B,)
        y, _ = lstm_lengths(m.lstm, x, steps)  # (B, T', 2H)
        return m.out(y).log_softmax(-1), steps


def task_graphs(predictor) -> list[Graph]:
    """The graphs that make up `predictor` (a task's trained Predictor) in ONNX."""
    task = predictor.task
    if task == "forecast":
        c = predictor.net[0].config
        example = torch.randn(2, c["lookback"] + c["horizon"], c["n_features"], generator=torch.Generator().manual_seed(0))
        return [Graph("model", ForecastGraph(predictor.net), (example,), {"windows": {0: "batch"}},
                      ("quantiles",), lambda x: (predictor.net(x),))]
    if task == "classify":
        nets = [m.module for m in predictor.models]
        ids = torch.tensor([[2, 3, 4], [5, 0, 0]])
        return [Graph("model", ClassifyGraph(nets), (ids,), {"ids": {0: "batch", 1: "length"}},
                      ("probabilities",), lambda ids: (torch.stack([n(ids).softmax(-1) for n in nets]).mean(0),))]
    if task == "translate":
        return _translate_graphs(predictor.model)
    if task == "transcribe":
        features = torch.randn(2, 7, predictor.config.features.n_features, generator=torch.Generator().manual_seed(0))
        return [Graph("model", TranscribeGraph(predictor.model), (features, torch.tensor([7, 3])),
                      {"features": {0: "batch", 1: "frames"}, "lengths": {0: "batch"}},
                      ("log_probs", "steps"), predictor.model)]
    raise ValueError(f"task: no ONNX export for {task!r} models")


def _translate_graphs(seq2seq) -> list[Graph]:
    H, L = seq2seq.decoder.hidden_size, seq2seq.decoder_layers
    width = 2 * H + isinstance(seq2seq, CopySeq2Seq)  # memory's channels (CopySeq2Seq: the ids too)
    src = torch.tensor([[5, 6, 7], [8, 0, 0]])
    batch, source = {0: "batch"}, {0: "batch", 1: "source"}
    g = torch.Generator().manual_seed(0)
    h, c, memory, keys = (torch.randn(*shape, generator=g) for shape in ((L, 2, H), (L, 2, H), (2, 3, width), (2, 3, H)))
    if width > 2 * H:
        memory[..., -1] = src  # the ids CopySeq2Seq copies from
    decoder_example = (torch.tensor([[1], [1]]), h, c, memory, keys, src != PAD)

    def encode(src):
        memory, keys, _, (h, c) = seq2seq.encode(src)
        return memory, keys, h, c

    def decode(token, h, c, memory, keys, mask):
        logits, attn, (h, c) = seq2seq.decode(token, (h, c), memory, keys, mask)
        return logits, attn, h, c
    return [Graph("encoder", EncoderGraph(seq2seq), (src,), {"src": source}, ("memory", "keys", "h", "c"), encode),
            Graph("decoder", DecoderGraph(seq2seq), decoder_example,
                  {"token": batch, "h": {1: "batch"}, "c": {1: "batch"}, "memory": source, "keys": source,
                   "mask": source}, ("logits", "attention", "h_next", "c_next"), decode)]
