"""A JSON prediction server for any task model: `lstmkit serve --model DIR` (FastAPI under uvicorn).

`create_app(DIR)` loads the model once (refusing damaged directories with `ModelFileError`) and
returns the FastAPI application: `POST /predict` with the task's inputs, `GET /health`, `GET /model`,
OpenAPI at `/docs`. Concurrent requests are micro-batched (`Batcher`) and the model runs on one
worker thread. Needs the `serve` extra (`pip install 'lstmkit[serve]'`).

Example:
    >>> from lstmkit.serve import create_app                       # doctest: +SKIP
    >>> app = create_app("runs/classify-movies")                   # doctest: +SKIP
"""
from .app import create_app, model_info
from .batcher import Batcher
from .schemas import Limits

__all__ = ["Batcher", "Limits", "create_app", "model_info"]
