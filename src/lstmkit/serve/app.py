"""The FastAPI application: `POST /predict`, `GET /health`, `GET /model`, OpenAPI at `/docs`.

Errors are JSON with one line under "error": 400 for a body that is not JSON, 415 for one not sent
as JSON, 413 for one over the size limit (`BodyLimit`: refused before it is parsed), 422 for a
request the schema or the model refuses (with the schema's errors under "detail"), 404 and 405.
"""
import logging
import platform
from contextlib import asynccontextmanager
from pathlib import Path

import fastapi
import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from .._version import __version__
from ..errors import LstmkitError, ModelFileError
from ..safefile import read_json_object
from ..tasks.common import model_dir
from . import tasks
from .batcher import Batcher
from .body_limit import BodyLimit
from .schemas import RESPONSES, Limits, request_model

log = logging.getLogger("lstmkit.serve")


def create_app(model, *, limits: Limits = Limits()) -> FastAPI:
    """Load the task model in `model` once and build the application that serves it.

    Args:
        model: a run directory written by `lstmkit TASK train`, or its model/ directory.
        limits: request and batching limits (see `Limits`).

    Returns:
        The FastAPI app; run it with uvicorn (`lstmkit serve` does).

    Raises:
        ModelFileError: the directory is missing, damaged, foreign or holds no task model.

    Example:
        >>> import uvicorn                                                        # doctest: +SKIP
        >>> uvicorn.run(create_app("runs/forecast-airpassengers"), port=8000)     # doctest: +SKIP
    """
    service = tasks.load(model)
    info = model_info(model_dir(model), service)
    batcher = Batcher(service.run, max_batch=limits.max_batch, max_wait=limits.batch_wait)
    Body, Reply = request_model(service.task, limits), RESPONSES[service.task]

    @asynccontextmanager
    async def lifespan(app):
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title=f"lstmkit {service.task} model", version=__version__, lifespan=lifespan,
                  description=f"Predictions of the {service.task} model in {info['model']}. "
                  "`POST /predict` takes the task's inputs as JSON.")
    app.add_middleware(BodyLimit, limit=limits.body)
    app.state.batcher, app.state.service = batcher, service

    @app.get("/health", summary="the server is up; model calls and items run so far (their ratio: the mean batch)")
    async def health():
        return {"status": "ok", "task": service.task, "model_calls": batcher.calls, "items": batcher.items}

    @app.get("/model", summary="the model's task, config, metrics.json and versions")
    async def about():
        return info

    @app.post("/predict", response_model=Reply, summary=f"{service.task} predictions")
    async def predict(body: Body):
        key, items = service.split(body)
        return service.reply(body, await batcher.submit(key, items))

    _add_error_handlers(app)
    return app


def model_info(directory: Path, service) -> dict:
    """What `GET /model` answers: task, directory, the validated config, metrics.json from the run
    directory (None when there is none or it cannot be read), and the versions that serve it."""
    metrics = None
    run = directory.parent if directory.name == "model" else directory
    if (run / "metrics.json").is_file():
        try:
            metrics = read_json_object(run / "metrics.json", 4 << 20)
        except ModelFileError as e:  # the model itself is fine: serve it, say why metrics are missing
            log.warning("metrics.json left out: %s", e)
    versions = {"lstmkit": __version__, "torch": torch.__version__, "fastapi": fastapi.__version__,
                "python": platform.python_version()}
    return {"task": service.task, "model": str(directory), "config": service.predictor.config.to_dict(),
            "metrics": metrics, "versions": versions}


def _add_error_handlers(app: FastAPI):
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        if any(e["type"] == "json_invalid" for e in errors):
            reason = errors[0].get("ctx", {}).get("error", "")
            return _error(400, f"request body: not valid JSON ({reason} at character {errors[0]['loc'][-1]})")
        if "json" not in request.headers.get("content-type", ""):
            return _error(415, f"request body: expected Content-Type: application/json, got "
                               f"{request.headers.get('content-type')!r}")
        first = errors[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or "request body"
        # the schema's errors without their "input": a refused 4 MiB list is not sent back
        detail = [{k: e[k] for k in ("type", "loc", "msg")} for e in errors]
        return _error(422, f"{where}: {first['msg']}", detail=detail)

    @app.exception_handler(LstmkitError)
    async def refused(request: Request, exc: LstmkitError):
        return _error(422, str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return _error(exc.status_code, str(exc.detail), headers=exc.headers)


def _error(status: int, message: str, *, detail=None, headers=None) -> JSONResponse:
    body = {"error": message} if detail is None else {"error": message, "detail": detail}
    return JSONResponse(body, status_code=status, headers=headers)
