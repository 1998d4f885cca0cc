"""How `base="auto"` chooses among the bases and their equal-weight pairs (hybrid.folds, fold_errors,
choose) and the "combination" base a pair gives: folds that never see their own targets, the
simple base kept on ties, and a combination model that trains, saves, loads and forecasts."""
import json

import numpy as np
import pandas as pd
import pytest

from lstmkit.errors import ModelFileError
from lstmkit.tasks import forecast
from lstmkit.tasks.forecast import hybrid


def test_folds_train_before_each_fold_and_need_enough_windows():
    L, H = 8, 4
    train, val = np.arange(L - 1, 300), np.arange(310, 350)
    found = hybrid.folds(train, val, L, H)
    assert len(found) == hybrid.FOLDS and np.array_equal(found[0][0], train) and np.array_equal(found[0][1], val)
    for (fold_train, fold), (_, later) in zip(found[1:], found):
        assert len(fold) == len(val) and fold[-1] < later[0]  # stretches of the same length, earlier each time
        assert fold_train.max() + H < fold[0] + 1  # every training target ends before the fold's first
        assert len(fold_train) >= hybrid.PER_PARAMETER * (L + 1)
    # the fold before 54..63 trains on origins 7..50 (44 windows >= 4 x 9); the next on 7..40 (34) is left out
    assert [int(v[0]) for _, v in hybrid.folds(np.arange(7, 61), np.arange(64, 74), L, H)] == [64, 54]
    assert len(hybrid.folds(np.arange(7, 41), np.arange(44, 54), L, H)) == 1  # a short series: one stretch


def test_choose_keeps_a_pair_only_when_it_beats_every_single_base_clearly():
    singles = {("last",): 1.0, ("seasonal",): 0.6, ("linear",): 0.6}
    assert hybrid.choose(singles) == ("seasonal",)  # a tie goes to the first: the base that needs no fit
    near = {**singles, ("seasonal", "linear"): 0.6 * (1 - hybrid.TIE / 2)}
    assert hybrid.choose(near) == ("seasonal",)
    clear = {**singles, ("seasonal", "linear"): 0.5, ("last", "linear"): 0.55}
    assert hybrid.choose(clear) == ("seasonal", "linear")


def test_fold_errors_pick_the_season_of_an_exact_cycle_and_the_last_value_of_a_random_walk():
    season = np.tile([0.0, 5.0, -3.0, 2.0], 60)[:, None]
    errors = hybrid.fold_errors(season, np.arange(7, 150), np.arange(160, 200), 8, 4, 4)
    assert ("seasonal", "linear") in errors and hybrid.choose(errors) == ("seasonal",)
    walk = np.cumsum(np.random.default_rng(0).normal(size=(600, 1)), 0)
    errors = hybrid.fold_errors(walk, np.arange(7, 450), np.arange(460, 540), 8, 4, 1)
    assert hybrid.choose(errors) == ("last",)
    # each fold's bases are refitted on that fold's own training windows: the mean over the folds
    # differs from the last fold's error alone
    last_only = {k: v for k, v in hybrid.fold_errors(walk, np.arange(7, 450), np.arange(460, 540), 400, 4, 1).items()}
    assert last_only[("last",)] != errors[("last",)]


def test_combined_base_is_the_mean_of_its_parts():
    z = np.sin(np.arange(300) / 3.0)[:, None]
    linear = hybrid.LinearBase(12, 3).fit(z, np.arange(11, 200))
    both = hybrid.CombinedBase(["seasonal", "linear"], {"linear": linear}, 3, 6, 12)
    origins = np.array([220, 250])
    seasonal = z[origins[:, None] + np.array([-5, -4, -3])]
    assert np.allclose(both(z, origins), (seasonal + linear(z, origins)) / 2, atol=1e-6)


def _cycle(n=260, seed=0):
    rng = np.random.default_rng(seed)
    return pd.Series(10 + np.sin(np.arange(n) * 2 * np.pi / 12) + 0.2 * rng.normal(size=n),
                     index=pd.date_range("2000-01-01", periods=n, freq="MS"), name="y")


def test_a_combination_trains_on_its_residuals_saves_and_loads(tmp_path, monkeypatch):
    monkeypatch.setattr(hybrid, "choose", lambda errors: ("seasonal", "decomposition"))
    config = forecast.Config(horizon=6, lookback=24, test_size=12, epochs=2, hidden_size=4, peers="off", ensemble=1)
    f = forecast.train(_cycle(), config, verbose=0)
    assert f.base == "combination" and f.linear.names == ["seasonal", "decomposition"]
    z, cov, cal = f._arrays(f.frame)
    origins = np.array([150, 180])
    _, y = f._windows(z, cov, cal, origins)
    seasonal = z[origins[:, None] + np.arange(1, 7) - 12]
    mean = (seasonal + f.linear.parts["decomposition"](z, origins)) / 2
    assert np.allclose(y, z[origins[:, None] + np.arange(1, 7)] - mean, atol=1e-5)  # the LSTM learns its errors
    f.save(tmp_path / "m")
    loaded = forecast.Forecaster.load(tmp_path / "m")
    assert loaded.base == "combination" and loaded.linear.names == f.linear.names
    assert np.allclose(loaded.predict(data=f.frame).to_numpy(), f.predict().to_numpy(), atol=1e-5)
    later = _cycle().iloc[-40:]  # new history starting later: the decomposition part reads its phase
    assert loaded._phase_of(later.to_frame()) == 260 - 40
    path = tmp_path / "m" / "preprocessing.json"
    good = json.loads(path.read_text())
    assert good["linear"] is None and good["decomposition"] and good["start"]
    for bad, field in (({"decomposition": None}, "decomposition"), ({"combination": None}, "combination"),
                       ({"combination": {**good["combination"], "lookback": 7}}, "combination.lookback")):
        path.write_text(json.dumps({**good, **bad}))
        with pytest.raises(ModelFileError, match=field):
            forecast.Forecaster.load(tmp_path / "m")
