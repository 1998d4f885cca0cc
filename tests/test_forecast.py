"""Forecasting with training: the quality bar on AirPassengers, quantiles, recursive forecasts,
save -> load -> predict, and the command on series of other frequencies and with a covariate."""
import json

import numpy as np
import pandas as pd
import pytest

from lstmkit.cli.main import main
from lstmkit.data.series import load_dataset
from lstmkit.errors import LstmkitError
from lstmkit.tasks import forecast
from lstmkit.tasks.forecast import Config as ForecastConfig, Forecaster

MODELS = ["lstm", "naive", "seasonal_naive", "linear_ar"]
METRICS = ["mae", "rmse", "mape", "smape", "mase"]
TINY = dict(epochs=3, ensemble=1, hidden_size=8, peers="off")  # peers: tests/test_forecast_scores.py




@pytest.fixture(scope="module")
def air():
    return load_dataset("airpassengers")[0]


def test_defaults_beat_seasonal_naive_on_airpassengers(air):
    """The issue's quality bar, with the defaults: 24 months held out, 13 rolling origins."""
    result = forecast.train(air, ForecastConfig(target="passengers"), verbose=0).backtest()
    lstm, snaive = result.metrics["lstm"], result.metrics["seasonal_naive"]
    assert lstm["mase"] < snaive["mase"] and lstm["smape"] < snaive["smape"]
    assert len(result.origins) == 13 and result.actual.shape == (13, 12, 1)
    assert str(result.origins[0].date()) == "1958-12-01"  # the last training month


def test_quantiles_sorted_and_save_load_reproduces_forecast(air, tmp_path):
    f = forecast.train(air, ForecastConfig(target="passengers", **TINY), verbose=0)
    future = f.predict()
    assert future.shape == (12, 3) and str(future.index[0].date()) == "1961-01-01"
    q = future.to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()  # p10 <= p50 <= p90
    f.save(tmp_path / "model")
    loaded = Forecaster.load(tmp_path / "model")
    again = loaded.predict(data=air)
    pd.testing.assert_frame_equal(future, again, check_freq=False)
    assert loaded.predict(6, data=air.iloc[:100]).index[0] == air.index[100]
    with pytest.raises(LstmkitError, match="at most 12 steps"):
        loaded.predict(13, data=air)


def test_recursive_strategy_forecasts_past_its_training_step(air):
    f = forecast.train(air, ForecastConfig(target="passengers", strategy="recursive", **TINY), verbose=0)
    assert f.net[0].config["horizon"] == 1
    future = f.predict(30)
    assert future.shape == (30, 3) and np.isfinite(future.to_numpy()).all()
    assert f.backtest().forecasts["lstm"].shape == (13, 12, 1)


def test_multivariate_targets_with_a_covariate():
    frame, _ = load_dataset("seattle-weather")
    config = ForecastConfig(target=["temp_max", "temp_min"], covariates=["wind"], horizon=3, lookback=10,
                            test_size=10, **TINY)
    f = forecast.train(frame.tail(200), config, verbose=0)
    assert list(f.predict().columns) == [f"{t}_p{q}" for t in ("temp_max", "temp_min") for q in (10, 50, 90)]
    assert f.backtest().actual.shape == (8, 3, 2)


def test_cli_trains_writes_outputs_and_forecasts_with_the_saved_model(tmp_path, capsys):
    out = tmp_path / "air"
    assert main(["forecast", "--epochs", "3", "--ensemble", "1", "--hidden", "8", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "seasonal_naive" in printed and "epoch" in printed and "ETA" in printed  # table, progress
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics)[:4] == MODELS and all(list(m)[:5] == METRICS for m in metrics.values())
    assert all({"crps", "pinball", "coverage_10_90", "width_10_90"} <= set(m) for m in metrics.values())
    assert "quantile scores" in printed and "auto_arima" in metrics
    assert {p.name for p in out.iterdir()} >= {"forecast.png", "forecast.csv", "backtest.csv", "model"}
    backtest = pd.read_csv(out / "backtest.csv")
    assert len(backtest) == 13 * 12
    mae = (backtest["lstm"] - backtest["actual"]).abs().mean()
    assert np.isclose(mae, metrics["lstm"]["mae"])
    csv = tmp_path / "air.csv"
    load_dataset("airpassengers")[0].rename_axis("month").to_csv(csv)
    assert main(["forecast", "--quiet", "--model", str(out / "model"), "--data", str(csv),
                 "--out", str(tmp_path / "again")]) == 0
    first = pd.read_csv(out / "forecast.csv")
    pd.testing.assert_frame_equal(first, pd.read_csv(tmp_path / "again" / "forecast.csv"))


def test_cli_on_a_yearly_series(tmp_path):
    """Sunspots: yearly steps and an 11-year season, with the same command."""
    out = tmp_path / "sun"
    assert main(["forecast", "--quiet", "--dataset", "sunspots", "--epochs", "2", "--ensemble", "1",
                 "--peers", "off", "--hidden", "8", "--out", str(out)]) == 0
    forecast = pd.read_csv(out / "forecast.csv")
    assert len(forecast) == 11 and forecast["time"].iloc[0].startswith("2009")


def test_cli_base_flag_sets_what_the_lstm_corrects(tmp_path, capsys):
    """--base seasonal is saved in the model; a base the CLI does not know is one line, exit 2."""
    out = tmp_path / "sun"
    assert main(["forecast", "--quiet", "--dataset", "sunspots", "--epochs", "2", "--ensemble", "1",
                 "--peers", "off", "--hidden", "8", "--base", "seasonal", "--out", str(out)]) == 0
    assert json.loads((out / "model" / "preprocessing.json").read_text())["base"] == "seasonal"
    with pytest.raises(SystemExit) as stop:
        main(["forecast", "--quiet", "--dataset", "sunspots", "--base", "arima", "--out", str(tmp_path / "x")])
    assert stop.value.code == 2 and "argument --base: invalid choice: 'arima'" in capsys.readouterr().err


def test_cli_on_half_hourly_demand_with_temperature(tmp_path):
    """Electricity demand: half-hourly (season 48), temperature as a past covariate."""
    out = tmp_path / "elec"
    assert main(["forecast", "--quiet", "--dataset", "elecdemand", "--epochs", "1", "--ensemble", "1",
                 "--hidden", "8", "--lookback", "48", "--horizon", "12", "--test-size", "48",
                 "--out", str(out)]) == 0
    prep = json.loads((out / "model" / "preprocessing.json").read_text())
    config = json.loads((out / "model" / "config.json").read_text())["config"]
    assert config["covariates"] == ["Temperature"] and prep["season"] == 48
    assert len(pd.read_csv(out / "forecast.csv")) == 12


def test_future_covariates_need_their_next_values(tmp_path, capsys):
    """WorkDay is known ahead: the forecast after the data needs its next H values (--future)."""
    frame = load_dataset("elecdemand")[0].tail(400).rename_axis("time")
    history, ahead = frame.iloc[:-12], frame.iloc[-12:][["WorkDay"]]
    config = ForecastConfig(target="Demand", covariates=["Temperature"], future_covariates=["WorkDay"],
                            horizon=12, lookback=48, test_size=48, **TINY)
    f = forecast.train(history, config, verbose=0)
    with pytest.raises(LstmkitError, match=r"future: .*\['WorkDay'\].* 12 steps after the data"):
        f.predict()
    with pytest.raises(LstmkitError, match="expected the step after the data"):
        f.predict(future=ahead.set_axis(ahead.index + pd.Timedelta("30min")))  # one step late
    expected = f.predict(future=ahead)
    f.save(tmp_path / "model")
    history.to_csv(tmp_path / "history.csv")
    ahead.to_csv(tmp_path / "ahead.csv")
    args = ["forecast", "--model", str(tmp_path / "model"), "--data", str(tmp_path / "history.csv"),
            "--out", str(tmp_path / "out"), "--quiet"]
    assert main(args) == 2 and "--future FILE.csv" in capsys.readouterr().err
    assert main([*args, "--future", str(tmp_path / "ahead.csv")]) == 0
    got = pd.read_csv(tmp_path / "out" / "forecast.csv", index_col="time", parse_dates=True)
    assert np.allclose(got.to_numpy(), expected.to_numpy())


def test_numeric_time_column_continues_in_its_own_steps(tmp_path):
    """Years given as numbers stay years (not nanoseconds since 1970)."""
    frame = load_dataset("sunspots")[0]
    path = tmp_path / "sun.csv"
    pd.DataFrame({"YEAR": frame.index.year, "spots": frame["SUNACTIVITY"].to_numpy()}).to_csv(path, index=False)
    config = ForecastConfig(target="spots", time_col="YEAR", season_length=11, horizon=11, lookback=22,
                            test_size=22, **TINY)
    f = forecast.train(str(path), config, verbose=0)
    assert f.predict().index.tolist() == list(range(2009, 2020))
    assert f.backtest().origins[0] == 1986
