"""Forecasting without training: reading and checking series, windows, scaler, calendar features,
baselines, metrics, and a one-line error with exit status 2 for every bad input."""
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from lstmkit.cli.main import main
from lstmkit.data import timeseries as ts
from lstmkit.data.series import DATASETS, load_dataset, read_series
from lstmkit.errors import DataError
from lstmkit.tasks.forecast import baselines
from lstmkit.tasks.forecast.metrics import forecast_metrics, mase_scale


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def monthly(n=80, start="2000-01"):
    t = pd.date_range(start, periods=n, freq="MS").strftime("%Y-%m")
    y = 100 + np.arange(n) + 10 * np.sin(np.arange(n) * 2 * np.pi / 12)
    return pd.DataFrame({"month": t, "sales": y.round(2), "temp": np.cos(np.arange(n)).round(3)})


# ---- reading ---------------------------------------------------------------------------------

def test_read_series_from_csv_parses_time_and_orders_columns(tmp_path):
    path = write(tmp_path, monthly(30).to_csv(index=False))
    frame = read_series(path, target="sales", time_col="month", covariates=["temp"])
    assert list(frame.columns) == ["sales", "temp"]
    assert isinstance(frame.index, pd.DatetimeIndex) and ts.infer_freq(frame.index) == "MS"
    assert frame.dtypes.tolist() == [np.float64, np.float64]


def test_read_series_accepts_a_series_and_picks_the_only_numeric_column():
    s = pd.Series([1.0, 2.0, 3.0], index=pd.date_range("2020-01-01", periods=3, freq="D"), name="y")
    assert list(read_series(s).columns) == ["y"]
    frame = read_series(pd.DataFrame({"when": ["a", "b"], "v": [1, 2]}))
    assert list(frame.columns) == ["v"] and isinstance(frame.index, pd.RangeIndex)


@pytest.mark.parametrize("fill,expected", [("interpolate", [1.0, 2.0, 3.0, 3.0]), ("ffill", [1.0, 1.0, 3.0, 3.0])])
def test_fill_missing_values(fill, expected):
    frame = read_series(pd.DataFrame({"y": [1.0, None, 3.0, None]}), target="y", fill=fill)
    assert frame["y"].tolist() == expected


def test_bundled_airpassengers_is_the_box_jenkins_series():
    frame, spec = load_dataset("airpassengers")
    assert len(frame) == 144 and frame["passengers"].iloc[[0, -1]].tolist() == [112, 432]
    assert set(DATASETS) == {"airpassengers", "msft", "seattle-weather", "sunspots", "elecdemand", "co2",
                             "seattle-temps"}


# ---- building blocks -------------------------------------------------------------------------

def test_season_and_calendar_follow_the_frequency():
    assert [ts.season_length(f) for f in ("MS", "QS-OCT", "D", "B", "h", "30min", "YS-JAN", None)] == \
        [12, 4, 7, 5, 24, 48, 1, 1]
    days = pd.DatetimeIndex(["2024-01-05", "2024-01-08", "2024-01-09", "2024-01-10", "2024-01-12"])
    assert ts.infer_freq(days) == "B"  # weekdays with a gap (a holiday) are trading days
    cal = ts.calendar_features(pd.date_range("2020-01-01", periods=13, freq="MS"), "MS")
    assert cal.shape == (13, 2) and np.allclose(cal[0], cal[12], atol=1e-6)  # a year later, same phase
    assert ts.calendar_features(pd.RangeIndex(5), None).shape == (5, 0)


def test_scaler_round_trip_and_log_needs_positive_values():
    values = np.array([[1.0, -2.0], [4.0, 0.0], [9.0, 3.0]])
    s = ts.Scaler.fit(values, log=False)
    assert np.allclose(s.inverse(s.transform(values)), values)
    assert np.allclose(s.transform(values).mean(0), 0, atol=1e-6)
    assert np.allclose(ts.Scaler.from_dict(s.to_dict()).transform(values), s.transform(values))
    with pytest.raises(DataError, match="log"):
        ts.Scaler.fit(values, log=True)


def test_windows_are_relative_to_the_origin_with_calendar_rows_ahead():
    z = np.arange(10, dtype=np.float32)[:, None]  # (N, T=1)
    cal = np.arange(14, dtype=np.float32)[:, None] * 10  # (N + H, C=1)
    offsets = ts.base_offsets(3, 2, "seasonal")
    x, bases = ts.make_windows(z, np.zeros((10, 0), np.float32), cal, np.array([4]), 3, 3, offsets, "seasonal")
    assert x.shape == (1, 6, 2)
    assert x[0, :3, 0].tolist() == [-2, -1, 0]  # targets relative to the value at the origin
    assert x[0, 3:, 0].tolist() == [0, 0, 0] and x[0, :, 1].tolist() == [20, 30, 40, 50, 60, 70]
    assert bases[0, :, 0].tolist() == [3, 4, 3]  # one season (2) before each step


def test_baselines_on_known_values():
    y = np.array([1.0, 2, 3, 4, 5, 6, 7, 8])[:, None]
    assert baselines.naive(y, np.array([3]), 2)[0, :, 0].tolist() == [4, 4]
    assert baselines.seasonal_naive(y, np.array([3]), 3, 2)[0, :, 0].tolist() == [3, 4, 3]
    ar = baselines.LinearAR(2, 2).fit(y, np.arange(1, 6))
    assert np.allclose(ar.predict(y, np.array([5]))[0, :, 0], [7, 8])  # a line is an exact AR


def test_metrics_by_hand():
    actual = np.array([[[2.0], [4.0]]])
    pred = np.array([[[1.0], [6.0]]])
    m = forecast_metrics(actual, pred, np.array([2.0]))
    assert m["mae"] == 1.5 and np.isclose(m["rmse"], np.sqrt(2.5))
    assert np.isclose(m["mape"], 50.0) and np.isclose(m["smape"], 100 * (2 / 3 + 4 / 10) / 2)
    assert m["mase"] == 0.75
    assert np.isnan(forecast_metrics(np.zeros((1, 1, 1)), np.ones((1, 1, 1)), np.ones(1))["mape"])
    assert mase_scale(np.array([[1.0], [3.0], [2.0], [5.0]]), 2).tolist() == [1.5]


# ---- bad input: one line on stderr, exit status 2 --------------------------------------------

def run_cli(capsys, *args):
    code = main(["forecast", "predict" if "--model" in args else "train", "--quiet", *args])
    err = capsys.readouterr().err
    return code, err


@pytest.mark.parametrize("content,args,message", [
    (None, [], "file not found"),
    ("", [], "is empty"),
    ("month,sales\n", ["--target", "sales"], "no rows"),
    ("month,sales\n2000-01,1\n", ["--target", "units"], "'units' is not in the data; columns: ['month', 'sales']"),
    ("month,sales\n2000-01,1\n2000-02,abc\n", ["--target", "sales"], "not numeric: line 3 holds 'abc'"),
    ("month,sales\n2000-02,1\n2000-01,2\n", ["--target", "sales", "--time-col", "month"], "unsorted: line 3"),
    ("month,sales\n2000-01,1\n2000-01,2\n", ["--target", "sales", "--time-col", "month"], "duplicate: line 3"),
])
def test_bad_files(tmp_path, capsys, content, args, message):
    path = str(tmp_path / "missing.csv") if content is None else write(tmp_path, content)
    code, err = run_cli(capsys, "--data", path, *args)
    assert code == 2 and message in err and err.count("\n") == 1


def test_unreadable_files(tmp_path, capsys):
    binary = tmp_path / "data.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    for path, message in ((binary, "cannot read"), (tmp_path, "is a directory")):
        code, err = run_cli(capsys, "--data", str(path), "--target", "y")
        assert code == 2 and message in err and err.count("\n") == 1


def test_augment_adds_scaled_and_jittered_copies():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 6, 2)).astype(np.float32)  # L=4, H=2, T=1 plus one calendar column
    y = rng.normal(size=(5, 2, 1)).astype(np.float32)
    xa, ya = ts.augment(x, y, 1, ("scale",), 2, rng)
    assert xa.shape == (15, 6, 2) and ya.shape == (15, 2, 1)
    ratio = ya[5:10] / y  # one factor per window, shared by inputs and targets
    assert np.allclose(xa[5:10, :, :1] / x[..., :1], ratio[:, :1, :], rtol=1e-4)
    assert np.array_equal(xa[5:, :, 1:], np.concatenate([x[..., 1:]] * 2))  # calendar untouched
    xj, yj = ts.augment(x, y, 1, ("jitter",), 1, rng)
    assert np.array_equal(yj[5:], y) and not np.array_equal(xj[5:, :4, 0], x[:, :4, 0])


def test_missing_values_name_the_first_bad_row(tmp_path, capsys):
    df = monthly(80)
    df.loc[5, "sales"] = None
    code, err = run_cli(capsys, "--data", write(tmp_path, df.to_csv(index=False)), "--target", "sales",
                        "--time-col", "month")
    assert code == 2 and "line 7" in err and "--fill interpolate" in err


def test_short_series_says_the_minimum(tmp_path, capsys):
    path = write(tmp_path, monthly(50).to_csv(index=False))
    code, err = run_cli(capsys, "--data", path, "--target", "sales", "--time-col", "month")
    assert code == 2 and "50 steps" in err and "at least 72" in err


@pytest.mark.parametrize("flag,value", [("--horizon", "0"), ("--lookback", "-3")])
def test_horizon_and_lookback_must_be_positive(tmp_path, capsys, flag, value):
    code, err = run_cli(capsys, "--data", write(tmp_path, monthly(80).to_csv(index=False)), "--target", "sales",
                        flag, value)
    assert code == 2 and f"{flag[2:]}: expected a positive integer, got {value}" in err


def test_model_dir_that_is_not_a_model(tmp_path, capsys):
    code, err = run_cli(capsys, "--model", str(tmp_path), "--data", write(tmp_path, monthly(80).to_csv(index=False)))
    assert code == 2 and "not a directory" not in err and "config.json" in err and err.count("\n") == 1
    with pytest.raises(SystemExit) as stop:  # a training flag: argparse's usage error
        run_cli(capsys, "--model", str(tmp_path), "--data", "x.csv", "--lookback", "5")
    assert stop.value.code == 2 and "unrecognized arguments: --lookback 5" in capsys.readouterr().err


def test_subprocess_exit_status_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "lstmkit.cli.main", "forecast", "train", "--data", str(tmp_path / "no.csv")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("lstmkit forecast: error: data: file not found")


def test_list_datasets(capsys):
    assert main(["forecast", "--list-datasets"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in DATASETS)


def test_config_checks():
    from lstmkit.tasks.forecast import Config as ForecastConfig
    assert ForecastConfig(covariates="temp").covariates == ["temp"]
    for bad, message in ((dict(quantiles=(0.9, 0.5, 0.1)), "quantiles"), (dict(strategy="both"), "strategy"),
                         (dict(test_size=6), "test_size"), (dict(augment=("noise",)), "augment"),
                         (dict(strategy="recursive", covariates=["temp"]), "recursive")):
        with pytest.raises(ValueError, match=message):
            ForecastConfig(**bad)


def test_sampling_from_quantiles_reproduces_them():
    from lstmkit.tasks.forecast.net import sample_quantiles
    q = np.tile(np.array([0.0, 1.0, 3.0]), (20000, 1, 1))  # (N, T=1, Q)
    draws = sample_quantiles(q, (0.1, 0.5, 0.9), np.random.default_rng(0))[:, 0]
    assert abs((draws < 0).mean() - 0.1) < 0.01 and abs((draws < 1).mean() - 0.5) < 0.01
    assert abs((draws < 3).mean() - 0.9) < 0.01 and draws.min() >= -0.25 - 1e-9
