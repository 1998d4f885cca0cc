"""BackupAndRestore with an integer save_freq: a backup every N batches, and a run interrupted
inside an epoch resumes at the batch after its last backup, ending with the same weights, bit for
bit, as a run that was never interrupted (shuffling and dropout included)."""
import json

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit.errors import LstmkitError
from lstmkit.layers import LSTM, Dense, Dropout
from lstmkit.models import BackupAndRestore, Callback, Sequential

EPOCHS, BATCHES = 3, 6  # 48 samples in batches of 8


class Interrupted(Exception):
    pass


class StopAfter(Callback):
    """Raises after `n` batches in all, as a killed run would stop."""

    def __init__(self, n):
        self.n, self.seen = n, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.n:
            raise Interrupted


def fit(callbacks, steps=None, source="arrays"):
    """`source`: "arrays" (shuffled each pass) or "generator" (one endless pass, made anew by a
    resumed run, as a user's script would)."""
    torch.set_num_threads(1)
    lstmkit.set_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.random((48, 5, 2), dtype=np.float32), rng.random((48, 1), dtype=np.float32)
    model = Sequential([LSTM(6, input_shape=(None, 2), dropout=0.2), Dropout(0.3), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    if source == "generator":
        def endless():
            while True:
                for i in range(0, 48, 8):
                    yield x[i:i + 8], y[i:i + 8]
        history = model.fit(endless(), epochs=EPOCHS, steps_per_epoch=steps, verbose=0, callbacks=callbacks)
    else:
        history = model.fit(x, y, epochs=EPOCHS, batch_size=8, verbose=0, callbacks=callbacks,
                            steps_per_epoch=steps)
    return model, history


@pytest.fixture(scope="module")
def uninterrupted():
    model, history = fit([])
    return {k: v.clone() for k, v in model.state_dict().items()}, history.history["loss"]


# where the first run stops (batches in all): on a backup, between backups, at an epoch's end,
# before the first backup; and the save_freq
@pytest.mark.parametrize("stop, freq", [(9, 3), (10, 3), (6, 4), (2, 5), (13, 1)])
def test_a_run_interrupted_inside_an_epoch_resumes_to_identical_weights(tmp_path, uninterrupted, stop, freq):
    want, losses = uninterrupted
    with pytest.raises(Interrupted):
        fit([BackupAndRestore(tmp_path, save_freq=freq), StopAfter(stop)])
    last = stop // freq * freq  # batches covered by the last backup
    if last:
        meta = json.loads((tmp_path / "latest" / "config.json").read_text())["backup"]
        assert (meta["epoch"] + 1, meta["batch"]) == divmod(last, BATCHES) or meta["batch"] == BATCHES
    else:
        assert not (tmp_path / "latest").exists()
    model, history = fit([BackupAndRestore(tmp_path, save_freq=freq)])
    got = model.state_dict()
    assert all(torch.equal(got[k], want[k]) for k in want)
    resumed_epoch = last // BATCHES  # epochs after it report full losses, equal to the uninterrupted run's
    assert history.history["loss"][-1] == losses[-1] or resumed_epoch == EPOCHS - 1
    assert not (tmp_path / "latest").exists()  # deleted once training completed


def test_backups_are_taken_every_save_freq_batches(tmp_path):
    taken = []

    class Watch(Callback):
        def on_train_batch_end(self, batch, logs=None):
            meta = json.loads((tmp_path / "latest" / "config.json").read_text())["backup"] \
                if (tmp_path / "latest").exists() else None
            taken.append(None if meta is None else meta["seen"])

    fit([BackupAndRestore(tmp_path, save_freq=4, delete_checkpoint=False), Watch()])
    assert taken[:9] == [None, None, None, 4, 4, 4, 4, 8, 8]
    assert taken[-1] == 16


@pytest.mark.parametrize("bad", [0, -2, 2.0, True, "batch"])
def test_save_freq_must_be_epoch_or_a_positive_int(tmp_path, bad):
    with pytest.raises(LstmkitError, match="save_freq: expected 'epoch' or a positive number of batches"):
        BackupAndRestore(tmp_path, save_freq=bad)


def test_an_ensembles_members_keep_the_save_freq_asked_for(tmp_path):
    from lstmkit.tasks.common import Members

    members = Members([BackupAndRestore(tmp_path, save_freq=3)])
    backup = [cb for cb in members.callbacks(1) if isinstance(cb, BackupAndRestore)]
    assert len(backup) == 1 and backup[0].save_freq == 3 and backup[0].backup_dir == tmp_path / "member-1"


def test_a_backup_after_an_epochs_last_batch_keeps_that_epochs_loss(tmp_path, uninterrupted):
    want, losses = uninterrupted
    with pytest.raises(Interrupted):  # stopped right after the backup at batch 6, the end of epoch 1
        fit([BackupAndRestore(tmp_path, save_freq=3), StopAfter(BATCHES)])
    model, history = fit([BackupAndRestore(tmp_path, save_freq=3)])
    assert all(torch.equal(model.state_dict()[k], want[k]) for k in want)
    assert history.history["loss"] == losses  # one loss per epoch, the first one's from the backup


def test_a_resumed_run_keeps_the_time_budget_it_had_used(tmp_path, monkeypatch):
    clock = iter(range(10_000))  # every look at the clock is one second later
    monkeypatch.setattr("lstmkit.models.callbacks.time.monotonic", lambda: next(clock))
    from lstmkit.models import TimeLimit
    budget = TimeLimit(14.5)
    with pytest.raises(Interrupted):
        fit([budget, BackupAndRestore(tmp_path, save_freq=2), StopAfter(8)])
    assert budget.used == 8  # one look at train begin, one per batch
    meta = json.loads((tmp_path / "latest" / "config.json").read_text())["backup"]
    assert meta["callbacks"]["TimeLimit#0"]["used"]["value"] == 8  # the backup after batch 8
    resumed, seen = TimeLimit(14.5), []

    class Count(Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)

    fit([resumed, BackupAndRestore(tmp_path, save_freq=2), Count()])
    # 8 s were used before: the 7th batch after them crosses 14.5 s (a fresh budget: all 10 left)
    assert len(seen) == 7 and resumed.used == 15


# steps_per_epoch: an epoch is part of a pass that carries on across epochs (4 or 5 of the 6 batches):
# backups inside the second pass, inside an epoch, at an epoch's end, and epoch backups
@pytest.mark.parametrize("source", ["arrays", "generator"])
@pytest.mark.parametrize("steps, stop, freq", [(4, 5, 2), (4, 6, 3), (5, 7, 2), (4, 11, 5), (4, 9, "epoch")])
def test_steps_per_epoch_resumes_where_the_pass_was(tmp_path, source, steps, stop, freq):
    want = fit([], steps, source)[0].state_dict()
    with pytest.raises(Interrupted):
        fit([BackupAndRestore(tmp_path, save_freq=freq), StopAfter(stop)], steps, source)
    got = fit([BackupAndRestore(tmp_path, save_freq=freq)], steps, source)[0].state_dict()
    assert all(torch.equal(got[k], want[k]) for k in want)
