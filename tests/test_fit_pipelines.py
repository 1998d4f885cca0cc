"""What translate and transcribe need from Model.fit, checked against torch: a loss over several
tensors (`compute_loss`), OneCycle = torch's OneCycleLR, gradient clipping between backward and
step, TimeLimit mid-epoch, batches planned per epoch; and BackupAndRestore resuming both pipelines
to bit-identical weights."""
import copy

import numpy as np
import pytest
import torch

from lstmkit.data.batching import EpochBatches
from lstmkit.data.speech_datasets import load_asterisk
from lstmkit.errors import LstmkitError
from lstmkit.models import BackupAndRestore, Callback, GeneratorStates, Model, TimeLimit, optimizers
from lstmkit.models.schedules import OneCycle
from lstmkit.tasks import transcribe, translate

PAIRS = [(f"{v} {n}", f"{fv} {fn}") for v, fv in (("open", "ouvrir"), ("close", "fermer"), ("show", "voir"),
                                                  ("hide", "cacher"), ("save", "garder"))
         for n, fn in (("file", "fichier"), ("door", "porte"), ("menu", "menu"), ("page", "page"))]
SPEECH = ("digits/1", "digits/2", "digits/3", "digits/4", "auth-thankyou", "conf-locked", "vm-goodbye")


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models, and bit-identical runs want a fixed thread count
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("pct_start", [0.15, 0.3])
def test_one_cycle_is_torchs_one_cycle_lr_with_its_momentum(pct_start):
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 0.02, total_steps=40, pct_start=pct_start)
    ours = OneCycle(0.02, 40, pct_start=pct_start)
    for step in range(40):
        assert ours(step) == opt.param_groups[0]["lr"] and ours.momentum(step) == opt.param_groups[0]["betas"][0]
        opt.step()
        sched.step()
    assert OneCycle(0.02, 40, cycle_momentum=False).momentum(3) is None
    with pytest.raises(LstmkitError, match="total_steps: expected a positive int, got 0"):
        OneCycle(0.02, 0)


def test_clipping_and_a_one_cycle_schedule_train_as_torchs_own_loop():
    """AdamW + OneCycleLR + clip_grad_norm_ by hand (the oracle) and the same through Model.fit
    give the same weights bit for bit: the clip runs between backward and step."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    oracle = copy.deepcopy(net)
    x, y = torch.randn(48, 5), torch.randn(48, 2) * 3
    opt = torch.optim.AdamW(oracle.parameters(), lr=0.05, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 0.05, total_steps=18, pct_start=0.2)
    clipped = 0
    for _ in range(3):
        for k in range(0, 48, 8):
            loss = ((oracle(x[k:k + 8]) - y[k:k + 8]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            clipped += float(torch.nn.utils.clip_grad_norm_(oracle.parameters(), 0.5)) > 0.5
            opt.step()
            sched.step()
    assert clipped > 10  # the clip did work
    model = Model(net)
    model.compile(optimizers.AdamW(OneCycle(0.05, 18, pct_start=0.2), weight_decay=1e-2, epsilon=1e-8,
                                   global_clipnorm=0.5), loss=lambda t, p: ((p - t) ** 2).mean())
    model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    for a, b in zip(net.parameters(), oracle.parameters()):
        assert torch.equal(a, b)


class _LengthMasked(Model):
    """A loss over several tensors: squared error on each sequence's valid steps only."""

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):
        (target, lengths), out = y, y_pred
        mask = torch.arange(out.shape[1])[None, :] < lengths[:, None]  # (B, T)
        return ((out.squeeze(-1) - target) ** 2)[mask].mean()


def test_a_model_that_overrides_compute_loss_trains_and_evaluates_on_it():
    torch.manual_seed(0)
    x, lengths = torch.randn(32, 6, 3), torch.randint(1, 7, (32,))
    target = x.sum(-1)
    batches = EpochBatches(lambda epoch: range(0, 32, 8), lambda k: (x[k:k + 8], (target[k:k + 8], lengths[k:k + 8])))
    model = _LengthMasked(torch.nn.Linear(3, 1))
    model.compile(optimizers.Adam(0.05))  # no loss: the model computes its own
    history = model.fit(batches, epochs=30, verbose=0).history["loss"]
    assert history[-1] < 0.5 * history[0]
    with torch.no_grad():
        expected = np.mean([float(model.compute_loss(None, list(y), model(xb))) for xb, y in batches])
    assert model.evaluate(batches, verbose=0) == pytest.approx(expected, rel=1e-5)  # equal batch sizes
    with pytest.raises(LstmkitError, match="loss: required"):
        Model(torch.nn.Linear(3, 1)).compile("adam")


def test_time_limit_ends_training_mid_epoch(monkeypatch, capsys):
    clock = iter(range(1000))
    monkeypatch.setattr("lstmkit.models.callbacks.time.monotonic", lambda: next(clock))
    seen = []
    model = Model(torch.nn.Linear(2, 1))
    model.compile("sgd", "mse")
    budget = TimeLimit(3.5)  # the clock ticks 1 s per look: the 4th batch crosses the limit
    history = model.fit(np.zeros((80, 2)), np.zeros((80, 1)), batch_size=8, epochs=5, verbose=0,
                        callbacks=[budget, _Record(seen)])
    assert seen == [(0, 4)] and len(history.history["loss"]) == 1
    assert capsys.readouterr().out == ""  # callbacks with batch hooks draw no bar at verbose=0
    assert budget.share() > 1 and TimeLimit(None).share() == 0.0
    with pytest.raises(LstmkitError, match="seconds: expected a positive number or None, got 0"):
        TimeLimit(0)


class _Record(Callback):
    """(epoch, batches run) of each epoch."""

    def __init__(self, seen):
        self.seen = seen

    def on_epoch_begin(self, epoch, logs=None):
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append((epoch, self.batches))


def test_fit_tells_a_planned_dataset_each_epoch_also_when_it_starts_later():
    plan = [[[0, 1]], [[2, 3], [4, 5]], [[6, 7]] * 3]
    x, y = torch.arange(16.0).reshape(8, 2), torch.zeros(8, 1)
    seen = []
    model = Model(torch.nn.Linear(2, 1))
    model.compile("sgd", "mse")
    batches = EpochBatches(plan.__getitem__, lambda idx: (x[idx], y[idx]))
    model.fit(batches, epochs=3, verbose=0, callbacks=[_Record(seen)])
    assert seen == [(0, 1), (1, 2), (2, 3)]
    seen.clear()
    model.fit(batches, epochs=3, initial_epoch=2, verbose=0, callbacks=[_Record(seen)])
    assert seen == [(2, 3)]


class _Killed(Exception):
    pass


class _KillAt(Callback):
    """Stop the run abruptly as epoch `at` begins (after BackupAndRestore backed up the one before)."""

    def __init__(self, at):
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise _Killed


def _resumed_equals_uninterrupted(train, tmp_path):
    whole = train([])
    with pytest.raises(_Killed):
        train([BackupAndRestore(tmp_path / "backup"), _KillAt(2)])
    assert (tmp_path / "backup" / "latest").exists()
    seen = []
    resumed = train([BackupAndRestore(tmp_path / "backup"), _Record(seen)])
    assert [epoch for epoch, _ in seen] == [2, 3]  # it did resume: epochs 0 and 1 came from the backup
    assert not (tmp_path / "backup").exists()  # a completed run removes its backup
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    return whole, resumed


def test_backup_and_restore_resumes_translate_to_the_same_weights(tmp_path):
    config = translate.Config(embed_size=8, hidden_size=8, vocab_size=30, tokenizer="char", epochs=4,
                              batch_size=4, test_fraction=0.2, dropout=0.3)
    whole, resumed = _resumed_equals_uninterrupted(
        lambda cbs: translate.train(PAIRS, config, verbose=0, callbacks=cbs), tmp_path)
    assert resumed.predict(["open file"]) == whole.predict(["open file"])


def test_backup_and_restore_resumes_transcribe_to_the_same_weights(tmp_path):
    items = [u for u in load_asterisk() if u.id in SPEECH]  # tempo changes and SpecAugment draw per epoch
    config = transcribe.Config(epochs=4, hidden_size=8, num_layers=1, stack=2, lm_order=0, batch_frames=600)
    whole, resumed = _resumed_equals_uninterrupted(
        lambda cbs: transcribe.train_on(items, config, verbose=0, callbacks=cbs), tmp_path)
    assert resumed.history == whole.history


def test_generator_states_start_each_epoch_where_the_last_one_ended():
    gen = torch.Generator().manual_seed(0)
    keep = GeneratorStates({"g": gen})
    keep.on_epoch_begin(0)
    first = torch.rand(3, generator=gen)
    keep.on_epoch_end(0)
    saved = copy.deepcopy(keep.states)
    second = torch.rand(3, generator=gen)
    gen.manual_seed(7)  # a fresh run resumed at epoch 1: the backup hands back `states`
    keep.states = saved
    keep.on_epoch_begin(1)
    assert torch.equal(torch.rand(3, generator=gen), second) and not torch.equal(first, second)
