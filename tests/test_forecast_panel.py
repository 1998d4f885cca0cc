"""Many series in one global model: per-series seasonality and scale recovered, Parquet streaming
gives the in-memory windows, every bad panel input is one line, save/load keeps the forecasts, and
the command trains with --id-col and predicts with the saved model."""
import json

import numpy as np
import pandas as pd
import pytest

from lstmkit.cli.main import main
from lstmkit.data.panel import PanelSpec, read_panel, stream_parquet
from lstmkit.errors import LstmkitError, ModelFileError
from lstmkit.tasks import forecast
from lstmkit.tasks.forecast import Config, Forecaster
from lstmkit.tasks.forecast.panel import PanelForecaster, _Stream

N, SEASON = 120, 12
FAST = dict(id_col="id", time_col="t", target="y", horizon=6, lookback=24, test_size=12, ensemble=1,
            hidden_size=16, peers="off", calendar=False)


def shape(k, t):
    """Series k's seasonal pattern: its own phase and harmonic mix."""
    phase = 2 * np.pi * k / 5
    return np.sin(2 * np.pi * t / SEASON + phase) + 0.5 * np.sin(4 * np.pi * t / SEASON + 2 * phase)


def make_panel(n_series=6, length=N, seed=0, **extra):
    rng, rows = np.random.default_rng(seed), []
    for k in range(n_series):
        t = np.arange(length)
        scale = 10.0 ** (k % 3 + 1)  # 10, 100, 1000: one model must put each scale back
        y = scale * (4 + shape(k, t) + 0.03 * rng.normal(size=length))
        rows.append(pd.DataFrame({"id": f"s{k}", "t": t, "y": y, "kind": "ab"[k % 2], **extra}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def panel():
    return make_panel()


@pytest.fixture(scope="module")
def trained(panel):
    config = Config(**FAST, epochs=60, patience=15, static_covariates=["kind"], series_embedding=4,
                    learning_rate=3e-3)
    return forecast.train(panel, config, verbose=0)


def test_global_model_recovers_each_series_seasonality_and_scale(trained, panel):
    result = trained.backtest()
    assert set(result.per_series) == {f"s{k}" for k in range(6)}
    for k in range(6):
        bt = result.series[f"s{k}"]
        actual, lstm = bt.actual[..., 0], bt.forecasts["lstm"][..., 0]  # (B, H)
        ahead = bt.positions[:, None] + np.arange(1, 7)
        scale = 10.0 ** (k % 3 + 1)
        wrong = scale * (4 + shape((k + 2) % 6, ahead))  # the right scale, another series' season
        err, err_wrong = np.abs(lstm - actual).mean(), np.abs(wrong - actual).mean()
        assert err < 0.25 * err_wrong, (k, err, err_wrong)
        assert abs(lstm.mean() / actual.mean() - 1) < 0.05  # the series' own level, not the panel's
    assert result.metrics["lstm"]["mase"] < 0.5 * result.metrics["naive"]["mase"]
    assert 0 <= result.metrics["naive"]["lstm_better"] <= 1


def test_predict_long_frame_and_save_load_round_trip(trained, panel, tmp_path):
    future = trained.predict()
    assert list(future.columns) == ["id", "time", "y_p10", "y_p50", "y_p90"] and len(future) == 6 * 6
    assert future["time"].iloc[0] == N and (np.diff(future[["y_p10", "y_p50", "y_p90"]].to_numpy(), axis=1) >= 0).all()
    trained.save(tmp_path / "m")
    loaded = Forecaster.load(tmp_path / "m")
    assert isinstance(loaded, PanelForecaster)
    again = loaded.predict(data=panel)
    np.testing.assert_allclose(again.iloc[:, 2:].to_numpy(), future.iloc[:, 2:].to_numpy(), rtol=1e-6)
    assert loaded.predict(data=panel[panel.id == "s3"])["id"].unique().tolist() == ["s3"]


def test_damaged_panel_preprocessing_is_refused(trained, tmp_path):
    trained.save(tmp_path / "m")
    path = tmp_path / "m" / "preprocessing.json"
    prep = json.loads(path.read_text())
    del prep["scalers"]["s2"]
    path.write_text(json.dumps(prep))
    with pytest.raises(ModelFileError, match="scalers"):
        Forecaster.load(tmp_path / "m")


def test_parquet_stream_gives_the_in_memory_windows(panel, tmp_path):
    path = tmp_path / "panel.parquet"
    panel.to_parquet(path, row_group_size=50)  # series cross row-group boundaries
    spec = PanelSpec("id", "y", "t", static=["kind"], min_length=1)
    streamed, memory = list(stream_parquet(path, spec)), read_panel(panel, spec)
    assert [r.id for r in streamed] == [r.id for r in memory]
    config = Config(**FAST, epochs=1, static_covariates=["kind"], series_embedding=2)
    a, b = PanelForecaster(config), PanelForecaster(config)
    a._first_pass(memory)
    b._first_pass(_Stream(path, spec))
    for ra, rb in zip(memory, streamed):
        for wa, wb in zip(a._series_windows(ra, "train"), b._series_windows(rb, "train")):
            np.testing.assert_array_equal(wa, wb)
    model = forecast.train(path, config, verbose=0)  # trains from the stream end to end
    assert len(model.predict(data=path)) == 6 * 6


def test_folder_of_csvs_one_series_each(panel, tmp_path):
    for sid, rows in panel.groupby("id"):
        rows.drop(columns="id").to_csv(tmp_path / f"{sid}.csv", index=False)
    records = read_panel(tmp_path, PanelSpec("id", "y", "t"))
    assert sorted(r.id for r in records) == [f"s{k}" for k in range(6)] and len(records[0].frame) == N


def one_line(exc):
    return "\n" not in str(exc)


@pytest.mark.parametrize("damage, match", [
    (lambda df: df[(df.id != "s1") | (df.t < 30)], "series 's1' has 30 steps"),
    (lambda df: pd.concat([df, df.iloc[[5]]]), "duplicated \\(id, time\\) rows: id 's0'"),
    (lambda df: df.assign(kind=np.where((df.id == "s2") & (df.t > 50), "z", df.kind)), "'kind' varies in time"),
    (lambda df: df.drop(columns="id"), "id column 'id' is not in"),
])
def test_bad_panel_input_is_one_line(panel, damage, match):
    config = Config(**FAST, epochs=1, static_covariates=["kind"])
    with pytest.raises(LstmkitError, match=match) as info:
        forecast.train(damage(panel), config, verbose=0)
    assert one_line(info.value)


def test_future_covariates_per_series_and_unknown_future_id(tmp_path):
    df = make_panel(3, promo=0.0)
    df["promo"] = (df.t % 7 == 0).astype(float)
    config = Config(**{**FAST, "calendar": True}, epochs=2, future_covariates=["promo"])
    model = forecast.train(df, config, verbose=0)
    future = pd.DataFrame({"id": np.repeat(["s0", "s1", "s2"], 6), "t": np.tile(np.arange(N, N + 6), 3),
                           "promo": 1.0})
    assert len(model.predict(future=future)) == 18
    with pytest.raises(LstmkitError, match="series 's9' is not in --data") as info:
        model.predict(future=pd.concat([future, future.iloc[:6].assign(id="s9")]))
    assert one_line(info.value)


def test_cli_train_with_id_col_then_predict(panel, tmp_path, capsys):
    data = tmp_path / "panel.csv"
    panel.to_csv(data, index=False)
    out = tmp_path / "run"
    rc = main(["forecast", "train", "--data", str(data), "--id-col", "id", "--time-col", "t", "--target", "y",
               "--horizon", "6", "--lookback", "24", "--test-size", "12", "--epochs", "2", "--ensemble", "1",
               "--hidden-size", "8", "--peers", "off", "--static-covariates", "kind", "--out", str(out), "--quiet"])
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["series"]) == {f"s{k}" for k in range(6)} and "mase_median" in metrics["aggregate"]["lstm"]
    assert (out / "forecast-s0.png").is_file() and pd.read_csv(out / "backtest.csv")["id"].nunique() == 6
    rc = main(["forecast", "predict", "--model", str(out), "--data", str(data), "--out", str(tmp_path / "p"), "--quiet"])
    assert rc == 0 and pd.read_csv(tmp_path / "p" / "forecast.csv")["id"].nunique() == 6


def test_cli_bad_panel_input_is_one_line_and_exit_2(panel, tmp_path, capsys):
    data = tmp_path / "dup.csv"
    pd.concat([panel, panel.iloc[[3]]]).to_csv(data, index=False)
    rc = main(["forecast", "train", "--data", str(data), "--id-col", "id", "--time-col", "t", "--target", "y",
               "--horizon", "6", "--lookback", "24", "--test-size", "12", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "duplicated (id, time) rows" in err


def test_a_panel_trains_in_the_precision_asked_for():
    from lstmkit.models import Callback

    seen = []

    class Precision(Callback):
        def on_train_begin(self, logs=None):
            seen.append(self.model._fit_precision)

    config = Config(**{**FAST, "lookback": 12, "test_size": 6}, epochs=1, precision="bf16")
    forecast.train(make_panel(n_series=3, length=60), config, verbose=0, callbacks=[Precision()])
    assert seen == ["bf16"]


def test_a_panel_refuses_a_backup_it_could_not_resume_from(tmp_path):
    from lstmkit.models import BackupAndRestore

    config = Config(**{**FAST, "lookback": 12, "test_size": 6, "ensemble": 2}, epochs=1)
    with pytest.raises(LstmkitError, match="cannot resume from a BackupAndRestore"):
        forecast.train(make_panel(n_series=3, length=60), config, verbose=0,
                       callbacks=[BackupAndRestore(tmp_path / "backup")])
