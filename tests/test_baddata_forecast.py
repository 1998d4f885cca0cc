"""Bad input to `lstmkit forecast`: each case exits with 2 and one line on stderr naming the file,
the line and what was expected, before any training; or, where filling is right, a correct result."""
import json

import numpy as np
import pytest

from cli_run import refused, run

N = 60
TINY = ["--epochs", "2", "--ensemble", "1", "--hidden", "4", "--peers", "off", "--horizon", "3",
        "--lookback", "6", "--test-size", "6", "--quiet"]


def series_csv(path, values=None, header="t,y"):
    values = [f"{10 + np.sin(i / 2):.3f}" for i in range(N)] if values is None else values
    path.write_text(header + "\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values)), encoding="utf-8")
    return path


def with_value(path, row, value):
    values = [f"{10 + np.sin(i / 2):.3f}" for i in range(N)]
    values[row] = value
    return series_csv(path, values)


@pytest.mark.parametrize("content,match", [
    (b"", r"data: .*bad\.csv is empty \(0 bytes\)"),
    (b"t,y\n", r"bad\.csv' has a header but no rows"),
    (bytes(range(256)) * 8, r"cannot read .*bad\.csv as text: it is binary \(a NUL byte on line 1\)"),
    ("t,y\n0,1\n1,caf\xe9\n".encode("latin-1"), r"bad\.csv line 3 is not UTF-8 \(byte 0xe9 at column 6\)"),
    (b"t,y\n0," + b"1" * (2 << 20) + b"\n", r"bad\.csv line 2 has 2,097,154 characters; expected at most"),
    (b"t,y,y\n0,1,2\n1,2,3\n", r"bad\.csv line 1 \(the header\) names column 'y' twice"),
    (b"t,y\n0,1\n1,2,3\n", r"cannot read .*bad\.csv' as CSV \(Error tokenizing data.*line 3"),
])
def test_unreadable_files(tmp_path, capsys, content, match):
    (tmp_path / "bad.csv").write_bytes(content)
    refused(capsys, "forecast", "train", "--data", tmp_path / "bad.csv", "--target", "y", "--time-col", "t",
            *TINY, match=match)


@pytest.mark.parametrize("row,value,match", [
    (7, "seven", r"column 'y' is not numeric: line 9 holds 'seven'"),
    (40, "inf", r"column 'y': line 42 holds inf; expected a finite number"),
    (40, "-inf", r"column 'y': line 42 holds -inf; expected a finite number"),
    (40, "1e308", r"column 'y': line 42 holds 1e\+308; expected a number of magnitude at most 1e\+100"),
    (12, "nan", r"missing values: line 14 has none in \['y'\]; use --fill"),
])
def test_bad_values_are_named_by_column_and_line(tmp_path, capsys, row, value, match):
    path = with_value(tmp_path / "s.csv", row, value)
    refused(capsys, "forecast", "train", "--data", path, "--target", "y", "--time-col", "t", *TINY, match=match)


def test_duplicated_and_unsorted_time_stamps(tmp_path, capsys):
    path = series_csv(tmp_path / "s.csv")
    lines = path.read_text().splitlines()
    lines[5] = lines[4].split(",")[0] + ",3.0"
    path.write_text("\n".join(lines) + "\n")
    refused(capsys, "forecast", "train", "--data", path, "--target", "y", "--time-col", "t", *TINY,
            match=r"time stamps: duplicate: line 6 \(3\) repeats line 5")


def test_wrong_columns(tmp_path, capsys):
    path = series_csv(tmp_path / "s.csv")
    refused(capsys, "forecast", "train", "--data", path, "--target", "sales", *TINY,
            match=r"target column 'sales' is not in the data; columns: \['t', 'y'\]")
    refused(capsys, "forecast", "train", "--data", path, "--target", "y", "--covariates", "temp", *TINY,
            match=r"covariate 'temp' is not in the data")


@pytest.mark.parametrize("flags,match", [
    (["--season", "0"], r"--season: expected a positive integer, got 0"),
    (["--seed", "-1"], r"--seed: expected a non-negative integer, got -1"),
    (["--epochs", "0"], r"--epochs: expected a positive integer, got 0"),
    (["--epochs", "2.5"], r"argument --epochs: invalid int value: '2.5'"),
    (["--hidden", "100000"], r"--hidden-size: expected an integer of at most 8,192, got 100000"),
    (["--ensemble", "-2"], r"--ensemble: expected a positive integer, got -2"),
])
def test_bad_flags(tmp_path, capsys, flags, match):
    path = series_csv(tmp_path / "s.csv")
    refused(capsys, "forecast", "train", "--data", path, "--target", "y", *TINY, *flags, match=match)


def test_out_is_checked_before_training(tmp_path, capsys):
    path = series_csv(tmp_path / "s.csv")
    common = ["forecast", "train", "--data", path, "--target", "y", *TINY]
    refused(capsys, *common, "--out", path, match=r"--out: .*s\.csv is also the input --data")
    refused(capsys, *common, "--out", path / "run", match=r"--out: .*s\.csv/run lies under .*s\.csv, which is a file")
    (tmp_path / "notes.txt").write_text("mine")
    refused(capsys, *common, "--out", tmp_path / "notes.txt", match=r"expected a directory .* the existing file")
    (tmp_path / "run" / "model").mkdir(parents=True)
    (tmp_path / "run" / "model" / "thesis.tex").write_text("mine")
    refused(capsys, *common, "--out", tmp_path / "run", match=r"run/model is a directory that holds no model")
    assert (tmp_path / "run" / "model" / "thesis.tex").read_text() == "mine"
    (tmp_path / "run2" / "forecast.png").mkdir(parents=True)
    refused(capsys, *common, "--out", tmp_path / "run2", match=r"run2/forecast\.png is a directory")


def test_predict_flags(tmp_path, capsys):
    path = series_csv(tmp_path / "s.csv")
    refused(capsys, "forecast", "predict", "--model", tmp_path, "--data", path, "--horizon", "0",
            match=r"--horizon: expected a positive integer, got 0")
    refused(capsys, "forecast", "predict", "--model", tmp_path, "--data", path, "--out", path,
            match=r"--out: .* is also the input --data")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    earlier = series_csv(run_dir / "forecast.csv")  # an earlier forecast, given as the new history
    refused(capsys, "forecast", "predict", "--model", tmp_path, "--data", earlier, "--out", run_dir,
            match=r"--out: .*run/forecast\.csv is also the input --data")
    assert earlier.read_text()  # untouched
    (tmp_path / "run2" / "forecast.csv").mkdir(parents=True)
    refused(capsys, "forecast", "predict", "--model", tmp_path, "--data", path, "--out", tmp_path / "run2",
            match=r"forecast\.csv is a directory; expected a file name")


def test_fill_gives_a_correct_run_and_nonfinite_loss_stops_with_one_line(tmp_path, capsys, monkeypatch):
    path = with_value(tmp_path / "s.csv", 12, "")
    code, err, _ = run(capsys, "forecast", "train", "--data", path, "--target", "y", "--time-col", "t", *TINY,
                       "--fill", "interpolate", "--out", tmp_path / "run")
    assert code == 0 and err == []
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert all(np.isfinite(metrics[m]["mase"]) and metrics[m]["mase"] > 0 for m in ("lstm", "naive"))

    from lstmkit.tasks.forecast import net
    monkeypatch.setattr(net.PinballLoss, "__call__", lambda self, pred, true: (pred * float("nan")).sum())
    refused(capsys, "forecast", "train", "--data", path, "--target", "y", "--time-col", "t", *TINY,
            "--fill", "interpolate", "--out", tmp_path / "run3",
            match=r"the loss became nan at epoch 1, batch 1; lower the learning rate or check the data")
    assert not (tmp_path / "run3" / "model").exists()
