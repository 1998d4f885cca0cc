"""The JSON bodies of `POST /predict`, one pair per task, built for the server's limits.

Requests are strict: unknown fields, a number given as a string, an empty list or one longer than
the limit are refused (422) before the model sees them. `/docs` shows these models.

Forecast tables (`data`, `future`) are columns (`{"month": ["1960-11", "1960-12"], "passengers":
[390, 432]}`) or records (`[{"month": "1960-11", "passengers": 390}, ...]`): the frame the
model's `predict` would read from a CSV file with the same header.
"""
from dataclasses import dataclass
from typing import Annotated, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints


@dataclass(frozen=True)
class Limits:
    """What one request may hold, and how requests are batched."""
    body: int = 4 << 20         # bytes of request body; larger bodies get 413 before they are read
    items: int = 256            # texts, clips or sequences in one request
    text_chars: int = 10_000    # characters in one text
    rows: int = 100_000         # rows of a forecast table
    audio_items: int = 16       # clips in one transcribe request
    max_batch: int = 64         # items in one model call
    batch_wait: float = 0.002   # seconds the batcher waits for more requests


class Strict(BaseModel):
    """Unknown fields are errors, and values are not coerced ("3" is not 3)."""
    model_config = ConfigDict(extra="forbid", strict=True)


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("expected text with at least one non-space character")
    return text


Cell = Union[int, float, str, None]  # one value of a table: a number, a time stamp, or missing


def request_model(task: str, limits: Limits) -> type[BaseModel]:
    """The request model of `task` ("forecast", "classify", "translate", "transcribe", "digits")."""
    Text = Annotated[str, StringConstraints(max_length=limits.text_chars), AfterValidator(_not_blank)]
    Texts = Annotated[list[Text], Field(min_length=1, max_length=limits.items)]
    Columns = Annotated[dict[str, Annotated[list[Cell], Field(min_length=1, max_length=limits.rows)]],
                        Field(min_length=1)]
    Records = Annotated[list[dict[str, Cell]], Field(min_length=1, max_length=limits.rows)]
    Table = Union[Columns, Records]

    class ForecastRequest(Strict):
        """A history (and future covariates) as a table; the forecast covers `horizon` steps after it."""
        data: Table = Field(description="the history: the training CSV's columns, as columns or records")
        horizon: Annotated[int, Field(ge=1)] | None = Field(None, description="default: the model's horizon")
        future: Table | None = Field(None, description="future covariates for the steps after the data")

    class ClassifyRequest(Strict):
        texts: Texts

    class TranslateRequest(Strict):
        texts: Texts
        beam: Annotated[int, Field(ge=1, le=16)] = Field(1, description="1: greedy; more: beam search")

    class TranscribeRequest(Strict):
        audio: Annotated[list[Annotated[str, Field(min_length=1)]],
                         Field(min_length=1, max_length=limits.audio_items,
                               description="audio files (WAV, FLAC, OGG), each base64-encoded")]
        beam: Annotated[int, Field(ge=1, le=64)] | None = Field(None, description="default: the model's")
        lm_weight: Annotated[float, Field(ge=0)] | None = Field(None, description="default: the model's")

    class DigitsRequest(Strict):
        sequences: Annotated[list[Annotated[list[list[float]], Field(min_length=1)]],
                             Field(min_length=1, max_length=limits.items,
                                   description="MFCC sequences, each (frames, coefficients)")]

    return {"forecast": ForecastRequest, "classify": ClassifyRequest, "translate": TranslateRequest,
            "transcribe": TranscribeRequest, "digits": DigitsRequest}[task]


class Prediction(BaseModel):
    label: str
    probability: float
    probabilities: dict[str, float]


class ForecastResponse(BaseModel):
    forecast: dict[str, list[Union[float, str]]] = Field(
        description="the time column (or 'step'), then <target>_p<q> per target and quantile")


class ClassifyResponse(BaseModel):
    predictions: list[Prediction]


class TranslateResponse(BaseModel):
    translations: list[str]


class TranscribeResponse(BaseModel):
    texts: list[str]


class DigitsResponse(BaseModel):
    digits: list[int]


RESPONSES = {"forecast": ForecastResponse, "classify": ClassifyResponse, "translate": TranslateResponse,
             "transcribe": TranscribeResponse, "digits": DigitsResponse}
