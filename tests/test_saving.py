"""Model directories: the validated reader (regular files, size limits, bounded JSON, headers before
tensors, finite weights, schema, optimizer state) and the writer (atomic, fsynced, locked, swapped
in with no moment where the path is missing, temporaries cleaned up)."""
import json
import multiprocessing
import os
import struct
import threading
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from lstmkit import saving
from lstmkit.errors import LstmkitError, ModelFileError
from lstmkit.layers import LSTM, Dense, Embedding
from lstmkit.models import Sequential, load_model
from lstmkit.safefile import nesting_depth, parse_json, read_bytes, safetensors_header

X = np.random.default_rng(0).random((8, 4, 2), dtype=np.float32)
Y = np.random.default_rng(1).random((8, 1), dtype=np.float32)


@pytest.fixture
def saved(tmp_path):
    model = Sequential([LSTM(5, input_shape=(None, 2)), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(X, Y, epochs=1, verbose=0)
    model.save(tmp_path / "m")
    return tmp_path / "m", model


def edit_config(path, edit):
    config = json.loads((path / "config.json").read_text())
    edit(config)
    (path / "config.json").write_text(json.dumps(config))


def refused(path, match):
    with pytest.raises(ModelFileError, match=match) as info:
        load_model(path)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_round_trip_predicts_and_trains_on(saved):
    path, model = saved
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    loaded.fit(X, Y, epochs=1, verbose=0)


def test_fifo_and_device_are_refused_without_blocking(saved, tmp_path):
    path, _ = saved
    (path / "model.safetensors").unlink()
    os.mkfifo(path / "model.safetensors")
    start = time.monotonic()
    refused(path, "model.safetensors is not a regular file .a FIFO")
    assert time.monotonic() - start < 5
    with pytest.raises(ModelFileError, match="character device"):
        read_bytes("/dev/zero", 100)


def test_links_out_of_the_directory_are_refused_links_inside_are_not(saved, tmp_path):
    path, _ = saved
    outside = tmp_path / "elsewhere.json"
    outside.write_text((path / "config.json").read_text())
    (path / "config.json").unlink()
    (path / "config.json").symlink_to(outside)
    refused(path, "link that leaves the model directory")
    (path / "config.json").unlink()
    (path / "real.json").write_text(outside.read_text())
    (path / "config.json").symlink_to("real.json")
    load_model(path)


def test_every_file_has_a_size_limit(saved):
    path, _ = saved
    config = (path / "config.json").read_text()
    with open(path / "config.json", "ab") as f:
        f.truncate(200 << 20)  # sparse: the reader must refuse it by its size, not read it
    refused(path, "more than the limit")
    with pytest.raises(ModelFileError, match="more than the limit of 10"):
        read_bytes(path / "model.safetensors", 10)
    (path / "config.json").write_text(config)
    with open(path / "model.safetensors", "ab") as f:  # a valid header, then 300 MB it does not describe
        f.truncate(300 << 20)
    with pytest.raises(ModelFileError, match="its tensors cover .* of its 3145"):
        saving.open_model_dir(path)  # refused from the header: the 300 MB are never read


def test_json_nesting_non_finite_numbers_and_encoding(tmp_path):
    deep = b"[" * 100_000 + b"]" * 100_000
    assert nesting_depth(deep) == 100_000
    assert nesting_depth(b'{"a": "[[[\\"[", "b": [[1]]}') == 3  # brackets in strings do not count
    with pytest.raises(ModelFileError, match="nests 100000 levels deep"):
        parse_json(deep, "config.json")
    for literal in (b"NaN", b"Infinity", b"-Infinity", b"1e999", b"1" + b"0" * 400 + b".5"):
        with pytest.raises(ModelFileError, match="non-finite number"):
            parse_json(b'{"lr": ' + literal + b"}", "config.json")
    with pytest.raises(ModelFileError, match="truncated or not JSON"):
        parse_json(b'{"n": ' + b"9" * 5000 + b"}", "config.json")
    with pytest.raises(ModelFileError, match="not UTF-8"):
        parse_json(b'{"a": "\xff"}', "config.json")
    assert parse_json(b'{"a": [1, 2.5e3, "x"]}', "f") == {"a": [1, 2500.0, "x"]}


def test_safetensors_header_checked_before_any_tensor(tmp_path):
    good = tmp_path / "w.safetensors"
    save_file({"w": torch.zeros(3, 2)}, str(good))
    data = good.read_bytes()
    assert safetensors_header(data, good) == {"w": ("F32", (3, 2))}
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header["w"]["shape"] = [2**20, 2**20]
    raw = json.dumps(header).encode()
    with pytest.raises(ModelFileError, match="does not fit its 24 bytes"):
        safetensors_header(struct.pack("<Q", len(raw)) + raw + data[8 + n:], good)
    with pytest.raises(ModelFileError, match="header length"):
        safetensors_header(struct.pack("<Q", 2**62) + data[8:], good)
    import pickle
    with pytest.raises(ModelFileError, match="not a safetensors file"):
        safetensors_header(pickle.dumps({"w": 1}), good)


def test_pickle_renamed_to_model_safetensors_is_refused_and_never_run(saved, tmp_path):
    path, _ = saved
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    torch.save({"w": Payload()}, path / "model.safetensors")
    refused(path, "safetensors")
    assert not marker.exists()


def test_weights_must_match_the_config_and_be_finite(saved):
    path, _ = saved
    weights = load_file(str(path / "model.safetensors"))
    save_file({**weights, "lstm.weight_ih": weights["lstm.weight_ih"].double()}, str(path / "model.safetensors"))
    refused(path, "lstm.weight_ih' has shape .20, 2. and dtype float64, the config needs shape .20, 2. and dtype float32")
    bad = weights["dense.bias"].clone()
    bad[0] = float("nan")
    save_file({**weights, "dense.bias": bad}, str(path / "model.safetensors"))
    refused(path, "dense.bias' holds NaN or infinite values")


def test_sizes_in_the_config_are_bounded_before_anything_is_allocated(saved):
    path, _ = saved
    edit_config(path, lambda c: c["model"]["config"].update(input_shape=[None, 2**31]))
    message = refused(path, r"model.config.input_shape\[1\]: expected an integer in \[1, 1048576\], got 2147483648")
    assert "config.json" in message
    edit_config(path, lambda c: c["model"]["config"].update(input_shape=[None, 2]))
    edit_config(path, lambda c: c["model"]["config"]["layers"][0]["config"].update(units=60000))
    # within the schema's bounds, but not what the weights file holds: refused from the header alone
    refused(path, "lstm.weight_ih' has shape .20, 2.")
    base = {**json.loads((path / "config.json").read_text())["model"]["config"]["layers"][0]["config"], "units": 5}
    for field, value, match in [("units", -3, "units: expected an integer"), ("units", True, "units"),
                                ("dropout", 1.5, r"dropout: expected a number in \[0, 1\)"),
                                ("stateful", "yes", "stateful: expected true or false"),
                                ("surprise", 1, "LSTM has no argument 'surprise'")]:
        edit_config(path, lambda c: c["model"]["config"]["layers"][0].update(config={**base, field: value}))
        refused(path, match)


def test_format_version_of_another_type_is_refused(saved):
    path, _ = saved
    edit_config(path, lambda c: c.update(format_version="2"))
    refused(path, "format_version expected a positive integer, got '2'")
    edit_config(path, lambda c: c.update(format_version=7))
    refused(path, "newer lstmkit")


def test_optimizer_state_is_checked_at_load_not_at_the_first_fit(saved):
    path, _ = saved
    tensors = load_file(str(path / "optimizer.safetensors"))
    save_file({**tensors, "state.0.step": tensors["state.0.step"].long()}, str(path / "optimizer.safetensors"))
    refused(path, r"state\[0\].step: expected a 0-d float32 count")
    save_file({**tensors, "state.0.exp_avg": torch.zeros(3)}, str(path / "optimizer.safetensors"))
    refused(path, r"state\[0\].exp_avg: expected a floating tensor of the parameter's shape")
    save_file(tensors, str(path / "optimizer.safetensors"))
    for lr in ("fast", 1e308, -0.1):  # 1e308 is finite, but overflows the float32 step
        edit_config(path, lambda c: c["optimizer_state"]["param_groups"][0].update(lr=lr))
        refused(path, r"param_groups\[0\].lr")
    assert load_model(path, compile=False).predict(X).shape == (8, 1)


def test_embedding_vocabulary_bounded(tmp_path):
    model = Sequential([Embedding(10, 3, input_shape=(None,)), LSTM(2), Dense(1)])
    model.save(tmp_path / "e")
    edit_config(tmp_path / "e", lambda c: c["model"]["config"]["layers"][0]["config"].update(input_dim=2**40))
    refused(tmp_path / "e", "input_dim: expected an integer in")


def test_atomic_write_replaces_whole_files_and_cleans_stale_temporaries(tmp_path):
    target = tmp_path / "sub" / "notes.json"
    saving.atomic_write_json(target, {"a": 1, "bad": float("nan")})
    assert json.loads(target.read_text()) == {"a": 1, "bad": None}
    dead = multiprocessing.get_context("fork").Process(target=lambda: None)
    dead.start()
    dead.join()
    stale = target.parent / f".notes.json.{dead.pid}.abc12345.tmp"
    stale.write_text("half")
    mine = target.parent / f".notes.json.{os.getpid()}.def67890.tmp"  # a live writer's: kept
    mine.write_text("in progress")
    saving.atomic_write(target, b"new")
    assert target.read_bytes() == b"new" and not stale.exists() and mine.exists()
    with pytest.raises(LstmkitError, match="existing directory"):
        saving.atomic_write(tmp_path, "x")


def test_write_model_dir_refuses_to_replace_files_and_other_directories(tmp_path):
    (tmp_path / "file").write_text("user data")
    with pytest.raises(LstmkitError, match="existing file"):
        saving.write_model_dir(tmp_path / "file", {}, {"w": torch.zeros(1)})
    assert (tmp_path / "file").read_text() == "user data"
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.tex").write_text("...")
    with pytest.raises(LstmkitError, match="holds no model"):
        saving.write_model_dir(tmp_path / "docs", {}, {"w": torch.zeros(1)})


def test_reader_never_sees_a_missing_or_partial_model_while_writers_replace_it(tmp_path):
    path = tmp_path / "m"
    saving.write_model_dir(path, {"n": 0}, {"w": torch.zeros(100)})
    stop, seen, errors = threading.Event(), set(), []

    def read():
        while not stop.is_set():
            try:
                config, state, _ = saving.read_model_dir(path)
                assert float(state["w"][0]) == config["n"]  # weights and config from one write
                seen.add(config["n"])
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(1, 40):
            saving.write_model_dir(path, {"n": n}, {"w": torch.full((100,), float(n))})
    finally:
        stop.set()
        reader.join()
    assert not errors, errors[:3]
    assert len(seen) > 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporaries, locks or .old left


def _write_many(path, k):
    for n in range(15):
        saving.write_model_dir(path, {"writer": k, "n": n}, {"w": torch.full((1000,), float(k))})


def test_concurrent_writers_to_one_path_cannot_corrupt_it(tmp_path):
    path = tmp_path / "m"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_many, args=(path, k)) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    config, state, _ = saving.read_model_dir(path)
    assert torch.equal(state["w"], torch.full((1000,), float(config["writer"])))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_a_writer_killed_between_renames_leaves_the_previous_model_readable(tmp_path):
    path = tmp_path / "m"
    saving.write_model_dir(path, {"n": 1}, {"w": torch.ones(2)})
    os.replace(path, tmp_path / ".m.old")  # what the two-rename fallback does first
    config, _, _ = saving.read_model_dir(path)
    assert config["n"] == 1
    saving.write_model_dir(path, {"n": 2}, {"w": torch.ones(2)})  # recovers, then replaces
    assert saving.read_model_dir(path)[0]["n"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
