"""`runtime="onnx"`: a task predictor whose networks run in onnxruntime from the graphs `export_onnx` wrote.

The predictor is the task's own (`Forecaster`, `Classifier`, `Translator`, `Transcriber`), loaded from
the model directory as usual; only the network calls go to onnxruntime: the preprocessing, batching,
decoding (greedy and beam search, CTC) and postprocessing are the same code as the torch path, so the
predictions agree up to float rounding. The export is looked for in the model directory
(MODEL_DIR/model.onnx.json); if it is missing or older than the weights, loading refuses with the
command that writes it (exporting takes seconds and needs the torch exporter, which a deployment
should not run on the fly).
"""
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import LstmkitError, ModelFileError
from ..saving import CONFIG

SIDECAR = "model.onnx.json"


def require_onnxruntime(what: str):
    """The onnxruntime module, or one line naming the extra that installs it."""
    try:
        import onnxruntime
    except ImportError:
        raise LstmkitError(f"{what} needs onnx and onnxruntime: pip install 'lstmkit[deploy]'") from None
    return onnxruntime


def predictor_class(directory: Path):
    """The Predictor class of the task model in `directory` (read from its config.json)."""
    from ..tasks.classify import Classifier
    from ..tasks.forecast import Forecaster
    from ..tasks.transcribe import Transcriber
    from ..tasks.translate import Translator

    classes = {c.task: c for c in (Forecaster, Classifier, Translator, Transcriber)}
    try:
        task = json.loads((directory / CONFIG).read_text(encoding="utf-8")).get("task")
    except (OSError, ValueError, AttributeError):
        task = None  # Predictor.load says what is wrong with the directory
    if task is None:
        return classes["forecast"]
    if task not in classes:
        raise ModelFileError(f"model: {directory} is a {task!r} model; ONNX export covers the "
                             f"{', '.join(classes)} models")
    return classes[task]


def refuse_panel(predictor, directory: Path) -> None:
    """A many-series (panel) forecast model has no ONNX export: say so in one line."""
    if predictor.task == "forecast" and getattr(predictor.config, "id_col", None):
        raise ModelFileError(f"model: {directory} is a many-series (id_col={predictor.config.id_col!r}) forecast "
                             "model, which has no ONNX export yet; run it with the torch runtime")


def attach(predictor, directory: Path):
    """`predictor` (just loaded from `directory`) with its networks replaced by onnxruntime sessions.

    Raises:
        ModelFileError: no export in `directory`, an export of other weights, or a damaged graph.
        LstmkitError: onnxruntime is not installed.
    """
    from . import weights_digest

    if predictor.task not in ("forecast", "classify", "translate", "transcribe"):
        raise ModelFileError(f"runtime: {predictor.task!r} models have no ONNX export; use runtime='torch'")
    refuse_panel(predictor, directory)
    ort = require_onnxruntime("runtime='onnx'")
    sidecar = directory / SIDECAR
    run = f"run `lstmkit export --model {directory}`"
    if not sidecar.is_file():
        raise ModelFileError(f"model: {directory} has no ONNX export ({SIDECAR}); {run} first")
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        stale = meta["weights_sha256"] != weights_digest(directory)
        sessions = {name: ort.InferenceSession(str(directory / file), providers=["CPUExecutionProvider"])
                    for name, file in meta["graphs"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError) as e:
        raise ModelFileError(f"model: the ONNX export in {directory} cannot be read ({e}); {run} again") from None
    if stale:
        raise ModelFileError(f"model: the ONNX export in {directory} is of other weights than "
                             f"model.safetensors (retrained since?); {run} again")
    if predictor.task == "forecast":
        predictor.net = Session(sessions["model"])
    elif predictor.task == "classify":
        predictor.models = [Probabilities(sessions["model"])]
    elif predictor.task == "translate":
        predictor.model = Seq2SeqSessions(sessions["encoder"], sessions["decoder"])
    else:
        predictor.model = Session(sessions["model"])
    predictor.runtime = "onnx"  # Predictor.save refuses: the sessions hold no torch weights to write
    return predictor


class Session(nn.Module):
    """An onnxruntime session called like the torch module it was exported from: tensors in, out.

    Example:
        >>> Forecaster.load(run, runtime="onnx").net  # doctest: +SKIP
        Session(inputs=['windows'], outputs=['quantiles'])
    """

    def __init__(self, session):
        super().__init__()
        self.session = session
        self.inputs = [i.name for i in session.get_inputs()]
        self.outputs = [o.name for o in session.get_outputs()]

    def forward(self, *args):
        feed = {name: np.ascontiguousarray(x.detach().numpy() if isinstance(x, torch.Tensor) else x)
                for name, x in zip(self.inputs, args)}
        out = [torch.from_numpy(y) for y in self.session.run(None, feed)]
        return out[0] if len(out) == 1 else tuple(out)

    def extra_repr(self):
        return f"inputs={self.inputs}, outputs={self.outputs}"


class Probabilities(Session):
    """The classify graph (the ensemble's mean probabilities) in the place of `Classifier.models`.

    `Classifier.predict_proba` averages the softmax of each model's `predict(loader)`; this one
    model returns log-probabilities, whose softmax is the graph's probabilities again.
    """

    def predict(self, loader) -> np.ndarray:
        """(N, C) log-probabilities over the loader's batches of ids, in the loader's order."""
        return np.concatenate([np.log(self(ids).numpy()) for ids in loader])


class Seq2SeqSessions(nn.Module):
    """The translate encoder and decoder graphs with `Seq2Seq`'s `encode` and `decode`, so the greedy
    and beam searches of `tasks.translate.net` drive them unchanged."""

    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder, self.decoder = Session(encoder), Session(decoder)

    def encode(self, src):
        """src (B, S) -> (memory, keys, mask, (h0, c0)), as `Seq2Seq.encode`."""
        memory, keys, h, c = self.encoder(src)
        return memory, keys, src != 0, (h, c)

    def decode(self, tgt_in, state, memory, keys, mask):
        """One step: tgt_in (B, 1) -> (logits (B, 1, V), attention (B, 1, S), state)."""
        logits, attn, h, c = self.decoder(tgt_in, *state, memory, keys, mask)
        return logits, attn, (h, c)
