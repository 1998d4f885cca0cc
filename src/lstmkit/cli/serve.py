"""`lstmkit serve --model DIR`: a JSON prediction server for any task model (FastAPI under uvicorn)."""
import argparse
import socket

from ..errors import LstmkitError

EXAMPLES = """examples:
  lstmkit serve --model runs/forecast-airpassengers            # http://127.0.0.1:8000, API docs at /docs
  lstmkit serve --model runs/classify-movies --host 0.0.0.0 --port 8080
  curl -s localhost:8000/predict -H 'Content-Type: application/json' -d '{"texts": ["a fine film"]}'
endpoints: POST /predict (the task's inputs as JSON), GET /health, GET /model, GET /docs
"""


def register(subparsers) -> None:
    p = subparsers.add_parser("serve", help="serve a trained task model over HTTP (JSON)", epilog=EXAMPLES,
                              description="Load a model written by `lstmkit TASK train` once and answer "
                              "prediction requests as JSON; concurrent requests are batched.",
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, metavar="DIR", help="a run directory, or its model/ directory")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this "
                   "machine only; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=8000, help="default 8000; 0 picks a free port (printed)")
    limits = p.add_argument_group("limits and batching")
    limits.add_argument("--max-body", type=int, metavar="BYTES", help="largest request body (default 4 MiB)")
    limits.add_argument("--max-items", type=int, metavar="N", help="most texts or sequences a request "
                        "holds (default 256; transcribe: 16 clips)")
    limits.add_argument("--max-batch", type=int, metavar="N", help="most items in one model call (default 64)")
    limits.add_argument("--batch-wait-ms", type=float, metavar="MS", help="how long a batch waits for more "
                        "requests (default 2)")
    p.add_argument("--threads", type=int, metavar="N", help="torch threads for the model (default: torch's)")
    p.add_argument("--quiet", action="store_true", help="no access log")
    p.set_defaults(func=handle)


def handle(args) -> int:
    """Load the model (a damaged directory: one line, status 2), bind, serve until interrupted."""
    try:
        import fastapi  # noqa: F401  (checked here so that a missing one is one line, not a traceback)
        import uvicorn
    except ImportError as e:
        raise LstmkitError(f"serve: needs FastAPI and uvicorn ({e.name} is not installed); "
                           "pip install 'lstmkit[serve]'") from None
    import torch

    from ..serve import create_app

    # --port, --max-body, --max-items, --max-batch, --batch-wait-ms, --threads: cli.checks.validate
    if args.threads:
        torch.set_num_threads(args.threads)
    app = create_app(args.model, limits=_limits(args))
    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    print(f"lstmkit serve: {app.state.service.task} model from {args.model} on http://{_url_host(host)}:{port} "
          "(API docs at /docs; Ctrl-C stops)", flush=True)
    config = uvicorn.Config(app, log_level="warning" if args.quiet else "info", access_log=not args.quiet)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shut down cleanly, then raised Ctrl-C again: the usual way to stop
        print("lstmkit serve: stopped", flush=True)
    return 0


def _limits(args):
    from ..serve import Limits

    given = {"body": args.max_body, "items": args.max_items, "audio_items": args.max_items,
             "max_batch": args.max_batch,
             "batch_wait": None if args.batch_wait_ms is None else args.batch_wait_ms / 1000}
    return Limits(**{k: v for k, v in given.items() if v is not None})


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: a free one); LstmkitError when it cannot bind."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.create_server((host, port), family=family, backlog=2048)
        # Accepted connections inherit it. Without it, uvicorn's response body (written after the
        # headers) waits for the client's delayed ACK: 40 ms added to every answer.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    except OSError as e:
        raise LstmkitError(f"--host/--port: cannot listen on {host}:{port} ({e.strerror or e})") from None


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host

