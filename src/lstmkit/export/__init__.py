"""`export_onnx(model_dir)`: a trained task model as ONNX graphs, with what running them needs beside them.

Files written (OUT defaults to MODEL_DIR/model.onnx, where `predict --runtime onnx` looks):

- OUT: the graph (forecast, classify, transcribe); translate writes two, OUT's name with `.encoder`
  and `.decoder` before `.onnx` (model.encoder.onnx, model.decoder.onnx): the encoder runs once per
  batch, the decoder one step per generated token, driven by the greedy or beam search in Python.
- OUT.json (model.onnx.json): the task, the graph files, every input and output with its dtype and
  shape (named axes are dynamic), the task config, a copy of preprocessing.json (scalers, vocabulary,
  tokenizer, alphabet, feature settings), the SHA-256 of the weights exported (a later retrain makes
  the export stale, and `--runtime onnx` says so) and the largest difference between onnxruntime
  and torch on the example inputs, measured at export.

The graphs and what they compute are listed in `lstmkit.export.graphs`. Every file is written
atomically (`saving.atomic_write`) after `onnx.checker` accepts the graph.

Example:
    >>> from lstmkit.export import export_onnx
    >>> export_onnx("runs/forecast-airpassengers")  # doctest: +SKIP
    PosixPath('runs/forecast-airpassengers/model/model.onnx.json')
"""
import hashlib
import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..errors import LstmkitError
from ..saving import PREPROCESSING, WEIGHTS, atomic_write, atomic_write_json
from ..tasks.common import model_dir
from .graphs import task_graphs

FORMAT = "lstmkit-onnx"
DEFAULT_NAME = "model.onnx"
CHECK_TOL = 1e-4  # onnxruntime against torch on the example inputs, float32


def export_onnx(model, out=None) -> Path:
    """Export the task model in `model` (a run or model directory) to ONNX.

    Args:
        model: a directory written by `lstmkit <task> train` (or its model/ directory).
        out: the graph's path, ending in .onnx (default MODEL_DIR/model.onnx).

    Returns:
        The path of the JSON file written next to the graph(s).

    Raises:
        ModelFileError: `model` is missing, damaged, or not a task model that has an export.
        LstmkitError: `out` does not end in .onnx, or onnxruntime disagrees with torch.
    """
    import onnx

    from .runtime import predictor_class, refuse_panel, require_onnxruntime

    ort = require_onnxruntime("lstmkit export")
    directory = model_dir(model)
    cls = predictor_class(directory)
    predictor = cls.load(directory)
    refuse_panel(predictor, directory)
    out = Path(out) if out is not None else directory / DEFAULT_NAME
    if out.suffix != ".onnx":
        raise LstmkitError(f"onnx: expected a path ending in .onnx, got {str(out)!r}")
    graphs, files, io, diffs = task_graphs(predictor), {}, {}, {}
    for graph in graphs:
        path = out if len(graphs) == 1 else out.with_suffix(f".{graph.name}.onnx")
        proto = _export(graph)
        onnx.checker.check_model(proto, full_check=True)
        data = proto.SerializeToString()
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        diffs[graph.name] = _check(graph, session)
        atomic_write(path, data)
        files[graph.name], io[graph.name] = path.name, _signature(proto)
    prep = directory / PREPROCESSING
    sidecar = {"format": FORMAT, "version": 1, "lstmkit": __version__, "torch": torch.__version__,
               "opset": _opset(proto), "task": cls.task, "graphs": files, "io": io,
               "weights_sha256": weights_digest(directory), "config": predictor.config.to_dict(),
               "preprocessing": _read_json(prep) if prep.is_file() else None, "max_abs_diff": diffs}
    return atomic_write_json(out.with_name(out.name + ".json"), sidecar)


def weights_digest(directory: Path) -> str:
    """SHA-256 of the model directory's weights file."""
    return hashlib.sha256((directory / WEIGHTS).read_bytes()).hexdigest()


def _export(graph):
    """The graph as an onnx.ModelProto from the dynamo exporter (ONNX's LSTM nodes, dynamic axes)."""
    names = list(graph.inputs)
    dynamic = tuple(graph.inputs[n] or None for n in names)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's notes on optional dependencies and versions
        logging.disable(logging.WARNING)
        try:
            program = torch.onnx.export(graph.module.eval(), graph.example, dynamo=True, verbose=False,
                                        input_names=names, output_names=list(graph.outputs),
                                        dynamic_shapes=dynamic)
        finally:
            logging.disable(logging.NOTSET)
    return program.model_proto


def _check(graph, session) -> float:
    """The largest |onnxruntime - torch| over the outputs on the example inputs; raises past CHECK_TOL."""
    with torch.no_grad():
        expected = graph.reference(*graph.example)
    got = session.run(None, {n: x.numpy() for n, x in zip(graph.inputs, graph.example)})
    diff = max(float(np.abs(g - e.numpy()).max()) for g, e in zip(got, expected))
    if not diff <= CHECK_TOL:
        raise LstmkitError(f"export: the {graph.name} graph in onnxruntime differs from torch by {diff:.2e} "
                           f"(expected at most {CHECK_TOL}); this is a bug in lstmkit's export")
    return diff


def _signature(proto) -> dict:
    """{"inputs": [...], "outputs": [...]}: name, ONNX dtype name and shape (axis names are dynamic)."""
    import onnx

    def spec(value):
        t = value.type.tensor_type
        shape = [d.dim_param or d.dim_value for d in t.shape.dim]
        return {"name": value.name, "dtype": onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name,
                "shape": shape}
    return {"inputs": [spec(v) for v in proto.graph.input], "outputs": [spec(v) for v in proto.graph.output]}


def _opset(proto) -> int:
    return next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))


def _read_json(path: Path):
    import json

    return json.loads(path.read_text(encoding="utf-8"))
