"""The prediction server under load: requests/s and p50/p99 latency of `lstmkit serve` for 1, 8 and 32
concurrent loopback clients, for a forecast and a classify model. Run by `benchmarks/deploy.py`
(`--only server` runs this part alone).

Each model is served by `lstmkit serve` in its own process (so that the clients, asyncio + aiohttp
in this one, do not share its interpreter); each level runs its clients for `seconds` back to back
and stops by itself. (httpx's AsyncClient, tried first, itself topped out near 40 requests/s with
32 connections here, on `GET /health` too, where aiohttp's client reached 300+.) A request is an error when it is not answered 200. Latency is from sending the
request to having the whole response. The mean batch is the server's items per model call
(`GET /health`) over the level.

The models have the demo's architectures, briefly trained (their weights do not change the cost):
forecast `Config(target="passengers", time_col="month")` (ensemble of 3, H=64) on AirPassengers,
asked for 12 months after the last 48; classify the movie-snippet model (BiLSTM H=64, max pooling),
one snippet a request.
"""
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
LEVELS = (1, 8, 32)


def train_models(out: Path) -> dict:
    """name -> (run directory, request bodies) for the forecast and classify models."""
    from lstmkit.data.series import load_dataset
    from lstmkit.data.text_datasets import load_vader
    from lstmkit.tasks import classify, forecast

    frame, _ = load_dataset("airpassengers")
    air = frame.reset_index()
    air["month"] = air["month"].dt.strftime("%Y-%m")
    forecast.train(air, forecast.Config(target="passengers", time_col="month", epochs=3, peers="off"),
                   verbose=0).save(out / "forecast" / "model")
    movies = load_vader("movies")
    classify.train(movies, classify.Config(epochs=1), verbose=0).save(out / "classify" / "model")
    history = {"month": air["month"].tolist()[-48:], "passengers": air["passengers"].tolist()[-48:]}
    return {"forecast": (out / "forecast", [{"data": history, "horizon": 12}]),
            "classify": (out / "classify", [{"texts": [t]} for t in movies.texts[:500]])}


def start_server(run: Path, threads: int):
    """`lstmkit serve` on a free loopback port -> (process, base URL)."""
    command = [sys.executable, "-m", "lstmkit.cli.main", "serve", "--model", str(run), "--port", "0",
               "--quiet", "--threads", str(threads)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    if " on http://" not in line:
        proc.kill()
        raise RuntimeError(f"lstmkit serve did not start: {line!r}")
    return proc, line.split(" on ")[1].split()[0]


async def load(url: str, bodies: list, clients: int, seconds: float) -> dict:
    """`clients` concurrent clients posting `bodies` (in turn) for `seconds`; the level's numbers."""
    latencies, errors = [], 0
    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=clients),
                                     timeout=aiohttp.ClientTimeout(total=60)) as client:
        before = await _health(client)
        stop = time.perf_counter() + seconds

        async def one(k):
            nonlocal errors
            while time.perf_counter() < stop:
                body = bodies[k % len(bodies)]
                k += clients
                start = time.perf_counter()
                try:
                    async with client.post("/predict", json=body) as response:
                        await response.read()
                        ok = response.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                latencies.append(time.perf_counter() - start)
                errors += not ok

        began = time.perf_counter()
        await asyncio.gather(*(one(k) for k in range(clients)))
        elapsed = time.perf_counter() - began
        after = await _health(client)
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    calls = after["model_calls"] - before["model_calls"]
    return {"requests": len(latencies), "errors": errors, "rps": len(latencies) / elapsed, "p50": q[49],
            "p99": q[98], "batch": (after["items"] - before["items"]) / max(calls, 1)}


async def _health(client) -> dict:
    async with client.get("/health") as response:
        return await response.json()


def measure(seconds: float, threads: int, models: dict | None = None) -> dict:
    """(model name, clients) -> the level's numbers, every level of every model."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        models = models or train_models(Path(tmp))
        for name, (run, bodies) in models.items():
            proc, url = start_server(run, threads)
            try:
                asyncio.run(load(url, bodies, 4, min(2.0, seconds)))  # warm-up, not reported
                for clients in LEVELS:
                    results[(name, clients)] = r = asyncio.run(load(url, bodies, clients, seconds))
                    print(f"server {name} clients={clients}: {r['rps']:.0f} req/s, p50 {r['p50'] * 1e3:.1f} ms, "
                          f"p99 {r['p99'] * 1e3:.1f} ms, errors {r['errors']}, mean batch {r['batch']:.1f}",
                          flush=True)
            finally:
                proc.terminate()
                proc.wait(30)
    return results


def table(results: dict) -> str:
    lines = ["| model | clients | requests | errors | requests/s | p50 (ms) | p99 (ms) | p99 / p50 | mean batch |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for (name, clients), r in results.items():
        lines.append(f"| {name} | {clients} | {r['requests']:,} | {r['errors']} | {r['rps']:,.0f} | "
                     f"{r['p50'] * 1e3:.1f} | {r['p99'] * 1e3:.1f} | {r['p99'] / r['p50']:.1f}x | {r['batch']:.1f} |")
    return "\n".join(lines)


def goals(results: dict) -> str:
    """The goals (32 clients without error, p99 below 10x p50), met or not, per model."""
    lines = []
    for (name, clients), r in results.items():
        if clients == max(LEVELS):
            ratio = r["p99"] / r["p50"]
            lines.append(f"- {name}, {clients} clients: {r['errors']} errors of {r['requests']:,} requests "
                         f"({'met' if r['errors'] == 0 else 'NOT met'}); p99 = {ratio:.1f}x p50 "
                         f"({'met' if ratio < 10 else 'NOT met'}: goal below 10x)")
    return "\n".join(lines)
