"""Each task's model behind `POST /predict`: how a request becomes the items one model call takes,
and how the results become the response.

A Service is built around a loaded Predictor. `split(body) -> (key, items)` runs on the event loop
and checks what the request schema cannot (base64, frame widths, table shapes); `run(key, items)`
runs in the batcher's worker thread over the items of several requests with the same key; `reply`
turns one request's results into its JSON response.
"""
import base64
import binascii
import importlib
import io

import numpy as np
import pandas as pd

from ..errors import LstmkitError, ModelFileError
from ..saving import open_model_dir
from ..tasks.common import model_dir

PREDICTORS = {  # task in config.json -> where its Predictor lives
    "forecast": ("lstmkit.tasks.forecast", "Forecaster"),
    "classify": ("lstmkit.tasks.classify", "Classifier"),
    "translate": ("lstmkit.tasks.translate", "Translator"),
    "transcribe": ("lstmkit.tasks.transcribe", "Transcriber"),
    "digits": ("lstmkit.tasks.transcribe.digits", "DigitClassifier"),
}


def load(path) -> "Service":
    """The Service for the task model in `path` (a run directory or its model/), loaded once.

    Raises:
        ModelFileError: missing, damaged or foreign files, or a model of no task (a bare Keras-style one).
    """
    directory = model_dir(path)
    task = open_model_dir(directory).config.get("task")
    if task not in PREDICTORS:
        raise ModelFileError(f"model: {directory} is not a task model (task {task!r}); serve runs the models "
                             f"`lstmkit TASK train` writes: {', '.join(PREDICTORS)}")
    module, name = PREDICTORS[task]
    predictor = getattr(importlib.import_module(module), name).load(directory)
    return SERVICES[task](predictor)


class Service:
    """A task's predictor with its request handling; subclasses set `task` and the three steps."""
    task = ""

    def __init__(self, predictor):
        self.predictor = predictor


class ForecastService(Service):
    """One forecast per request: each history is its own model input."""
    task = "forecast"

    def split(self, body):
        future = None if body.future is None else _frame(body.future, "future")
        return None, [(body.horizon, _frame(body.data, "data"), future)]

    def run(self, key, items):
        return [self.predictor.predict(horizon, data=data, future=future) for horizon, data, future in items]

    def reply(self, body, results):
        frame = results[0]
        if self.predictor.config.id_col:  # a panel model: the series id and the time are columns
            return {"forecast": {name: _column(frame[name]) for name in frame.columns}}
        index = frame.index
        times = ([t.isoformat() for t in index] if isinstance(index, pd.DatetimeIndex) else index.tolist())
        columns = {name: frame[name].astype(float).tolist() for name in frame.columns}
        return {"forecast": {self.predictor.time_col or "step": times, **columns}}


def _column(values: pd.Series) -> list:
    """A forecast column as JSON: times as ISO strings, numbers as floats, anything else (series ids) as str."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return [t.isoformat() for t in values]
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype(float).tolist()
    return values.astype(str).tolist()


def _frame(table, name) -> pd.DataFrame:
    """A request's table (columns or records) as the frame `Forecaster.predict` reads."""
    if isinstance(table, dict) and len({len(v) for v in table.values()}) > 1:
        lengths = {column: len(values) for column, values in table.items()}
        raise LstmkitError(f"{name}: expected columns of equal length, got {lengths}")
    return pd.DataFrame(table)


class ClassifyService(Service):
    task = "classify"

    def split(self, body):
        return None, body.texts

    def run(self, key, texts):
        return list(self.predictor.predict_proba(texts))

    def reply(self, body, results):
        labels = [str(label) for label in self.predictor.labels]  # labels given as numbers (1, 0) answer as text
        return {"predictions": [{"label": labels[int(p.argmax())], "probability": float(p.max()),
                                 "probabilities": dict(zip(labels, map(float, p)))} for p in results]}


class TranslateService(Service):
    task = "translate"

    def split(self, body):
        return body.beam, body.texts

    def run(self, beam, texts):
        return self.predictor.predict(texts, beam=beam)

    def reply(self, body, results):
        return {"translations": results}


class TranscribeService(Service):
    """Clips arrive base64-encoded and are decoded from memory (no file is written)."""
    task = "transcribe"

    def split(self, body):
        if body.lm_weight and self.predictor.lm is None:
            raise LstmkitError("lm_weight: this model has no language model (it was trained with lm_order=0)")
        clips = []
        for k, text in enumerate(body.audio):
            try:
                clips.append((k, base64.b64decode(text, validate=True)))
            except (binascii.Error, ValueError) as e:
                raise LstmkitError(f"audio[{k}]: expected a base64-encoded audio file ({e})") from None
        return (body.beam, body.lm_weight), clips

    def run(self, key, clips):
        files = []
        for k, data in clips:
            file = io.BytesIO(data)
            file.name = f"audio[{k}]"  # how load_audio names it in errors
            files.append(file)
        return self.predictor.predict(files, beam=key[0], lm_weight=key[1])

    def reply(self, body, results):
        return {"texts": results}


class DigitsService(Service):
    task = "digits"

    def split(self, body):
        width = len(self.predictor.mean)
        for k, frames in enumerate(body.sequences):
            widths = {len(f) for f in frames}
            if widths != {width}:
                raise LstmkitError(f"sequences[{k}]: expected frames of {width} MFCC coefficients, "
                                   f"got widths {sorted(widths)}")
        return None, [np.asarray(s, dtype=np.float32) for s in body.sequences]

    def run(self, key, sequences):
        return self.predictor.predict(sequences).tolist()

    def reply(self, body, results):
        return {"digits": results}


SERVICES = {s.task: s for s in (ForecastService, ClassifyService, TranslateService, TranscribeService,
                                 DigitsService)}
