"""`lstmkit serve`: the real server (uvicorn on a loopback port) for a tiny model of every task:
predictions equal the Predictor's in-process ones, bad requests get clear 4xx answers, concurrent
clients are batched without error, and a damaged model directory stops the command with one line."""
import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import uvicorn

import lstmkit
from lstmkit.cli.main import main
from lstmkit.cli.serve import bind
from lstmkit.serve import Limits, create_app
from lstmkit.tasks import classify, forecast, transcribe, translate
from lstmkit.tasks.transcribe import digits
from test_tasks_contract import CASES

PREDICTORS = {"forecast": forecast.Forecaster, "classify": classify.Classifier, "translate": translate.Translator,
              "transcribe": transcribe.Transcriber, "digits": digits.DigitClassifier}
LIMITS = Limits(body=256 << 10, items=8, audio_items=4)  # small, so that refusals are cheap to provoke


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """task -> a run directory (model/ and, for classify, metrics.json) with a tiny trained model,
    and the data it was trained on."""
    root, out = tmp_path_factory.mktemp("runs"), {}
    for task, (module, config, data, _) in CASES.items():
        data = data()
        module.train(data, config(), verbose=0).save(root / task / "model")
        out[task] = (root / task, data)
    (root / "classify" / "metrics.json").write_text(json.dumps({"lstm": {"accuracy": 0.5}}))
    return out


@contextlib.contextmanager
def running(app):
    """Serve `app` with uvicorn on a free loopback port in a thread; yields its base URL."""
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def servers(runs):
    """task -> (base URL, app) of a running server for each task's run directory."""
    with contextlib.ExitStack() as stack:
        out = {}
        for task, (run, _) in runs.items():
            app = create_app(run, limits=LIMITS)
            out[task] = (stack.enter_context(running(app)), app)
        yield out


def post(servers, task, body, **kwargs):
    return httpx.post(f"{servers[task][0]}/predict", json=body, timeout=30, **kwargs)


def _b64(path) -> str:
    return base64.b64encode(Path(path).read_bytes()).decode()


def _columns(frame, rows=slice(None)) -> dict:
    """AirPassengers as the JSON columns a user sends: month as text, passengers as numbers."""
    frame = frame.iloc[rows]
    return {"month": [t.strftime("%Y-%m") for t in frame.index], "passengers": frame["passengers"].tolist()}


# ---- every endpoint, every task -------------------------------------------------------------------

@pytest.mark.parametrize("task", list(CASES))
def test_health_and_model_describe_the_loaded_model(servers, runs, task):
    url = servers[task][0]
    health = httpx.get(f"{url}/health").json()
    assert health["status"] == "ok" and health["task"] == task and health["items"] >= health["model_calls"] >= 0
    info = httpx.get(f"{url}/model").json()
    assert info["task"] == task and info["model"] == str(runs[task][0] / "model")
    assert info["config"] == json.loads(json.dumps(PREDICTORS[task].load(runs[task][0]).config.to_dict()))
    assert info["metrics"] == ({"lstm": {"accuracy": 0.5}} if task == "classify" else None)
    assert set(info["versions"]) == {"lstmkit", "torch", "fastapi", "python"}
    schema = httpx.get(f"{url}/openapi.json").json()
    assert "/predict" in schema["paths"] and httpx.get(f"{url}/docs").status_code == 200


def test_forecast_equals_the_predictor_for_columns_and_records(servers, runs):
    run, frame = runs["forecast"]
    columns = _columns(frame, slice(-40, None))
    expected = forecast.Forecaster.load(run).predict(6, data=pd.DataFrame(columns))
    records = [dict(zip(columns, row)) for row in zip(*columns.values())]
    for data in (columns, records):
        r = post(servers, "forecast", {"data": data, "horizon": 6})
        assert r.status_code == 200, r.text
        got = r.json()["forecast"]
        assert got["month"] == [t.isoformat() for t in expected.index]
        assert list(got) == ["month", *expected.columns]
        for name in expected.columns:
            np.testing.assert_allclose(got[name], expected[name], rtol=1e-6)


def test_a_panel_forecast_model_answers_its_long_frame(tmp_path):
    from test_forecast_panel import FAST, make_panel

    panel = make_panel(n_series=3, length=60)
    config = forecast.Config(**{**FAST, "lookback": 12, "test_size": 6}, epochs=1)
    forecast.train(panel, config, verbose=0).save(tmp_path / "model")
    history = panel[panel["id"] == "s1"].tail(20)
    columns = {name: history[name].tolist() for name in ("id", "t", "y", "kind")}
    expected = forecast.Forecaster.load(tmp_path).predict(data=history)
    with running(create_app(tmp_path, limits=LIMITS)) as url:
        r = httpx.post(f"{url}/predict", json={"data": columns}, timeout=30)
    assert r.status_code == 200, r.text
    got = r.json()["forecast"]
    assert list(got) == list(expected.columns) and got["id"] == ["s1"] * len(expected)
    for name in expected.columns[2:]:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-6)


def test_a_classifier_trained_on_numeric_labels_answers_them_as_text(tmp_path):
    from lstmkit.data.text_datasets import TextData

    data = TextData(["good film", "bad film", "great movie", "awful movie"] * 10, [1, 0, 1, 0] * 10, "numbers")
    config = classify.Config(embed_dim=4, hidden_size=4, epochs=1, min_freq=1)
    classify.train(data, config, verbose=0).save(tmp_path / "model")
    with running(create_app(tmp_path, limits=LIMITS)) as url:
        r = httpx.post(f"{url}/predict", json={"texts": ["good film"]}, timeout=30)
    assert r.status_code == 200, r.text
    got = r.json()["predictions"][0]
    assert got["label"] in ("0", "1") and set(got["probabilities"]) == {"0", "1"}


def test_classify_equals_the_predictor(servers, runs):
    texts = ["good story", "awful film", "a great fun film"]
    expected = classify.Classifier.load(runs["classify"][0]).predict(texts)
    got = post(servers, "classify", {"texts": texts}).json()["predictions"]
    assert [p["label"] for p in got] == [label for label, _ in expected]
    np.testing.assert_allclose([p["probability"] for p in got], [p for _, p in expected], rtol=1e-6)
    assert all(abs(sum(p["probabilities"].values()) - 1) < 1e-5 for p in got)


@pytest.mark.parametrize("beam", [1, 2])
def test_translate_equals_the_predictor(servers, runs, beam):
    texts = ["open file", "hide page", "show menu"]
    expected = translate.Translator.load(runs["translate"][0]).predict(texts, beam=beam)
    assert post(servers, "translate", {"texts": texts, "beam": beam}).json() == {"translations": expected}


def test_transcribe_reads_base64_audio_from_memory(servers, runs):
    run, utterances = runs["transcribe"]
    files = [u.path for u in utterances[:2]]
    model = transcribe.Transcriber.load(run)
    for beam in (None, 1):
        body = {"audio": [_b64(f) for f in files], **({} if beam is None else {"beam": beam})}
        assert post(servers, "transcribe", body).json() == {"texts": model.predict(files, beam=beam)}


def test_digits_equal_the_predictor(servers, runs):
    run, (sequences, _) = runs["digits"]
    expected = digits.DigitClassifier.load(run).predict(sequences[:5]).tolist()
    body = {"sequences": [s.tolist() for s in sequences[:5]]}
    assert post(servers, "digits", body).json() == {"digits": expected}


# ---- bad requests ---------------------------------------------------------------------------------

def test_bad_json_and_a_body_not_sent_as_json(servers):
    url = servers["classify"][0]
    r = httpx.post(f"{url}/predict", content=b'{"texts": ["a"', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"].startswith("request body: not valid JSON")
    r = httpx.post(f"{url}/predict", content=b'{"texts": ["a"]}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and "application/json" in r.json()["error"]


@pytest.mark.parametrize("body,where,message", [
    ({"texts": ["a"], "labels": ["x"]}, "labels", "Extra inputs are not permitted"),
    ({"text": ["a"]}, "texts", "Field required"),
    ({"texts": "good film"}, "texts", "valid list"),
    ({"texts": [3]}, "texts.0", "valid string"),
    ({"texts": []}, "texts", "at least 1 item"),
    ({"texts": ["   "]}, "texts.0", "non-space"),
    ({"texts": ["a"] * 9}, "texts", "at most 8 items"),
    ({"texts": ["a" * 10_001]}, "texts.0", "at most 10000 characters"),
    ([1, 2], "request body", "valid dictionary"),
])
def test_wrong_fields_types_and_sizes_are_422_naming_the_field(servers, body, where, message):
    r = post(servers, "classify", body)
    assert r.status_code == 422
    assert r.json()["error"].startswith(f"{where}: ") and message in r.json()["error"], r.json()
    assert "input" not in r.json()["detail"][0]  # the refused input is not echoed back


def test_an_oversized_body_is_413_before_it_is_read(servers):
    url = servers["classify"][0]
    big = json.dumps({"texts": ["word " * 1000] * 60}).encode()  # 300 kB > 256 KiB
    r = httpx.post(f"{url}/predict", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == f"request body: expected at most {256 << 10} bytes, " \
                                                          f"got {len(big)} bytes"
    chunks = (big[k:k + 8192] for k in range(0, len(big), 8192))  # no Content-Length: chunked
    r = httpx.post(f"{url}/predict", content=chunks, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "sent without Content-Length" in r.json()["error"]
    assert post(servers, "classify", {"texts": ["good film"]}).status_code == 200  # still serving


@pytest.mark.parametrize("task,body,message", [
    ("forecast", lambda f: {"data": {"month": ["1960-01"], "passengers": [1, 2]}}, "columns of equal length"),
    ("forecast", lambda f: {"data": _columns(f, slice(-10, None))}, "at least lookback = 24"),
    ("forecast", lambda f: {"data": {"passengers": _columns(f)["passengers"]}}, "time column"),
    ("forecast", lambda f: {"data": _columns(f), "horizon": 99}, "at most 12 steps"),
    ("forecast", lambda f: {"data": _columns(f), "horizon": "6"}, "valid integer"),
    ("forecast", lambda f: {"data": _columns(f), "horizon": 0}, "greater than or equal to 1"),
    ("translate", lambda _: {"texts": ["open file"], "beam": 0}, "greater than or equal to 1"),
    ("transcribe", lambda _: {"audio": ["not base64!"]}, "audio[0]: expected a base64-encoded audio file"),
    ("transcribe", lambda _: {"audio": [base64.b64encode(b"RIFF and noise").decode()]}, "cannot read audio[0]"),
    ("transcribe", lambda _: {"audio": ["AAAA"] * 5}, "at most 4 items"),
    ("digits", lambda _: {"sequences": [[[0.0] * 12]]}, "expected frames of 13 MFCC coefficients"),
    ("digits", lambda _: {"sequences": [[]]}, "at least 1 item"),
])
def test_inputs_the_model_cannot_use_are_422_with_the_reason(servers, runs, task, body, message):
    r = post(servers, task, body(runs["forecast"][1]))
    assert r.status_code == 422 and message in r.json()["error"], r.json()


def test_unknown_paths_and_methods_are_json_errors(servers):
    url = servers["classify"][0]
    assert httpx.get(f"{url}/nothing").json() == {"error": "Not Found"}
    r = httpx.get(f"{url}/predict")
    assert r.status_code == 405 and r.json() == {"error": "Method Not Allowed"}


# ---- concurrency --------------------------------------------------------------------------------

async def _clients(url, bodies, n_clients):
    """`n_clients` concurrent clients sending `bodies` round robin; the responses in order."""
    async with httpx.AsyncClient(base_url=url, timeout=60,
                                 limits=httpx.Limits(max_connections=n_clients)) as client:
        queue = list(enumerate(bodies))
        out = [None] * len(bodies)

        async def one():
            while queue:
                k, body = queue.pop()
                out[k] = await client.post("/predict", json=body)

        await asyncio.gather(*(one() for _ in range(n_clients)))
        return out


def test_32_concurrent_clients_are_batched_without_error(servers, runs):
    url, app = servers["classify"]
    words = ["good film", "bad film", "a good story", "awful mess", "great fun", "a bad story", "fun", "film"]
    texts = [[t] for t in words] * 8  # 64 requests of one text
    expected = dict(zip(words, classify.Classifier.load(runs["classify"][0]).predict(words)))
    calls, items = app.state.batcher.calls, app.state.batcher.items
    responses = asyncio.run(_clients(url, [{"texts": t} for t in texts], 32))
    assert [r.status_code for r in responses] == [200] * len(texts)
    for t, r in zip(texts, responses):
        p = r.json()["predictions"][0]
        assert p["label"] == expected[t[0]][0] and abs(p["probability"] - expected[t[0]][1]) < 1e-5
    calls, items = app.state.batcher.calls - calls, app.state.batcher.items - items
    assert items == len(texts) and calls < items  # some model calls ran several requests at once


def test_concurrent_translations_with_different_beams_get_their_own(servers, runs):
    model = translate.Translator.load(runs["translate"][0])
    bodies = [{"texts": [s], "beam": 1 + k % 2} for k, s in enumerate(["open file", "hide page", "show door"] * 6)]
    responses = asyncio.run(_clients(servers["translate"][0], bodies, 16))
    for body, r in zip(bodies, responses):
        assert r.json() == {"translations": model.predict(body["texts"], beam=body["beam"])}


def test_a_refused_request_in_a_batch_leaves_the_others_answered(servers, runs):
    frame = runs["forecast"][1]
    good, bad = {"data": _columns(frame), "horizon": 3}, {"data": _columns(frame, slice(-5, None))}
    responses = asyncio.run(_clients(servers["forecast"][0], [good, bad] * 8, 16))
    assert [r.status_code for r in responses] == [200, 422] * 8
    assert len({json.dumps(r.json()) for r in responses[::2]}) == 1  # every good one got the same forecast


def test_a_request_that_left_while_its_refused_batch_ran_leaves_the_batcher_serving():
    from lstmkit.errors import LstmkitError
    from lstmkit.serve.batcher import Batcher

    started, release = threading.Event(), threading.Event()

    def run(key, items):
        if items == ["bad"]:
            started.set()
            release.wait(10)
            raise LstmkitError("items: refused")
        return items

    async def scenario():
        batcher = Batcher(run, max_batch=8, max_wait=0)
        batcher.start()
        try:
            left = asyncio.ensure_future(batcher.submit(None, ["bad"]))
            await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
            left.cancel()  # the client went away while the model ran its request
            await asyncio.gather(left, return_exceptions=True)
            release.set()
            return await asyncio.wait_for(batcher.submit(None, ["ok"]), 10)
        finally:
            release.set()
            await batcher.stop()

    assert asyncio.run(scenario()) == ["ok"]


def test_the_batcher_waits_out_its_window_as_on_python_3_10(monkeypatch):
    from lstmkit.serve import batcher as batcher_module

    class AsyncioTimeout(Exception):  # Python 3.10's asyncio.TimeoutError, not the built-in one
        pass

    real_wait_for = asyncio.wait_for

    async def wait_for(awaitable, timeout):
        try:
            return await real_wait_for(awaitable, timeout)
        except TimeoutError:
            raise AsyncioTimeout from None

    monkeypatch.setattr(batcher_module.asyncio, "TimeoutError", AsyncioTimeout)
    monkeypatch.setattr(batcher_module.asyncio, "wait_for", wait_for)

    async def scenario():
        batcher = batcher_module.Batcher(lambda key, items: items, max_batch=8, max_wait=0.01)
        batcher.start()
        try:  # a lone request: the window for more passes, then it runs
            return await real_wait_for(batcher.submit(None, ["a"]), 10)
        finally:
            await batcher.stop()

    assert asyncio.run(scenario()) == ["a"]


# ---- the command ----------------------------------------------------------------------------------

def _one_line_error(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lstmkit serve: error: "), err
    return err[0]


def test_a_damaged_or_foreign_model_directory_stops_serve_with_one_line(runs, tmp_path, capsys):
    damaged = tmp_path / "damaged"
    shutil.copytree(runs["classify"][0] / "model", damaged)
    weights = damaged / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # truncated
    assert main(["serve", "--model", str(damaged)]) == 2
    assert "model.safetensors" in _one_line_error(capsys)
    assert main(["serve", "--model", str(tmp_path / "missing")]) == 2
    assert "not a directory" in _one_line_error(capsys)
    bare = tmp_path / "bare"
    lstmkit.Sequential([lstmkit.layers.Input((None, 1)), lstmkit.layers.LSTM(2)]).save(bare)
    assert main(["serve", "--model", str(bare)]) == 2
    assert "is not a task model" in _one_line_error(capsys)


def test_without_fastapi_serve_says_what_to_install(runs, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn now raises ImportError
    assert main(["serve", "--model", str(runs["classify"][0])]) == 2
    assert "pip install 'lstmkit[serve]'" in _one_line_error(capsys)


def test_a_port_in_use_and_bad_flags_are_one_line(runs, capsys):
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        assert main(["serve", "--model", str(runs["classify"][0]), "--port", str(port)]) == 2
        assert f"cannot listen on 127.0.0.1:{port}" in _one_line_error(capsys)
    assert main(["serve", "--model", str(runs["classify"][0]), "--max-batch", "0"]) == 2
    assert "--max-batch: expected a positive integer" in _one_line_error(capsys)


def test_the_command_serves_until_interrupted(runs):
    command = [sys.executable, "-m", "lstmkit.cli.main", "serve", "--model", str(runs["classify"][0]),
               "--port", "0", "--quiet"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")})
    try:
        line = proc.stdout.readline()
        assert line.startswith("lstmkit serve: classify model from"), (line, proc.stderr.read())
        url = line.split(" on ")[1].split()[0]
        assert httpx.get(f"{url}/health", timeout=30).json()["status"] == "ok"
        assert httpx.post(f"{url}/predict", json={"texts": ["good film"]}, timeout=30).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
