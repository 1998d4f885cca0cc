"""`lstmkit <task> train --resume`: a run interrupted part-way (here by Ctrl-C raised at the start of
an epoch) and resumed ends with the same weights, bit for bit, as a run never interrupted; an
ensemble resumes member by member, skipping the members that finished."""
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from cli_run import refused, run
from lstmkit.models import training
from lstmkit.tasks.transcribe import digits
from test_baddata_classify import rows, table
from test_baddata_forecast import series_csv
from test_baddata_translate import TINY, pair_lines


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # bit-identical needs the same thread count in every run
    yield
    torch.set_num_threads(before)


def count_epochs(monkeypatch, stop_at=None):
    """Count the epochs fit runs; with `stop_at`, the epoch of that number raises KeyboardInterrupt."""
    calls = []
    real = training.train_epoch

    def epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == stop_at:
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    monkeypatch.setattr(training, "train_epoch", epoch)
    return calls


def interrupted_then_resumed(capsys, monkeypatch, argv, out, stop_at):
    """Run argv --resume stopped at epoch number `stop_at`, then again; returns the epochs the second run ran."""
    with monkeypatch.context() as m:
        count_epochs(m, stop_at)
        code, err, _ = run(capsys, *argv, "--out", out, "--resume")
        assert code == 130 and err == ["interrupted"] and (out / "backup").is_dir()
    refused(capsys, *argv, "--out", out, match=r"backup of an interrupted run; add --resume to continue it")
    with monkeypatch.context() as m:
        calls = count_epochs(m)
        code, err, _ = run(capsys, *argv, "--out", out, "--resume")
    assert code == 0 and err == [] and not (out / "backup").exists()
    return len(calls)


def same_weights(a, b):
    wa, wb = load_file(a / "model" / "model.safetensors"), load_file(b / "model" / "model.safetensors")
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_forecast_resumes_member_by_member(tmp_path, capsys, monkeypatch, one_thread):
    argv = ["forecast", "train", "--data", series_csv(tmp_path / "s.csv"), "--target", "y", "--epochs", "4",
            "--ensemble", "2", "--hidden", "4", "--peers", "off", "--horizon", "3", "--lookback", "6",
            "--test-size", "6", "--quiet"]
    assert run(capsys, *argv, "--out", tmp_path / "straight")[0] == 0
    # epochs 1-4 train member 0, 5-8 member 1: stopped in member 1's second epoch, the run resumed
    # skips member 0 and trains member 1's last three epochs
    assert interrupted_then_resumed(capsys, monkeypatch, argv, tmp_path / "resumed", stop_at=6) == 3
    assert same_weights(tmp_path / "straight", tmp_path / "resumed")


def test_classify_resumes_member_by_member(tmp_path, capsys, monkeypatch, one_thread):
    argv = ["classify", "train", "--data", table(tmp_path / "r.csv", rows()), "--epochs", "3", "--ensemble", "2",
            "--quiet"]
    assert run(capsys, *argv, "--out", tmp_path / "straight")[0] == 0
    assert interrupted_then_resumed(capsys, monkeypatch, argv, tmp_path / "resumed", stop_at=5) == 2
    assert same_weights(tmp_path / "straight", tmp_path / "resumed")


def test_digit_classifier_resumes(tmp_path, capsys, monkeypatch, one_thread):
    rng = np.random.default_rng(0)
    y = np.arange(120) % 10
    X = [rng.normal(k % 10, 1.0, (int(rng.integers(8, 16)), 13)).astype(np.float32) for k in range(120)]
    monkeypatch.setattr(digits, "load_fsdd", lambda: (X, y))
    argv = ["transcribe", "train", "--fsdd", "--epochs", "4", "--hidden-size", "4", "--num-layers", "1", "--quiet"]
    assert run(capsys, *argv, "--out", tmp_path / "straight")[0] == 0
    assert interrupted_then_resumed(capsys, monkeypatch, argv, tmp_path / "resumed", stop_at=3) == 2
    assert same_weights(tmp_path / "straight", tmp_path / "resumed")


def test_resume_refuses_other_settings(tmp_path, capsys, monkeypatch):
    path = series_csv(tmp_path / "s.csv")
    argv = ["forecast", "train", "--data", path, "--target", "y", "--epochs", "3", "--ensemble", "1", "--hidden",
            "4", "--peers", "off", "--horizon", "3", "--lookback", "6", "--test-size", "6", "--quiet", "--out",
            tmp_path / "run", "--resume"]
    with monkeypatch.context() as m:
        count_epochs(m, stop_at=2)
        assert run(capsys, *argv)[0] == 130
    refused(capsys, *argv[:7], "4", *argv[8:], match=r"--resume: the backup in .*backup is of a run with other "
                                                      r"settings epochs; continue it with the same flags")



def test_translator_resumes(tmp_path, capsys, monkeypatch, one_thread):
    (tmp_path / "p.tsv").write_text("\n".join(pair_lines()) + "\n", encoding="utf-8")
    argv = ["translate", "train", "--pairs", tmp_path / "p.tsv", *TINY[:1], "3", *TINY[2:], "--quiet"]
    assert run(capsys, *argv, "--out", tmp_path / "straight")[0] == 0
    assert interrupted_then_resumed(capsys, monkeypatch, argv, tmp_path / "resumed", stop_at=2) == 2
    assert same_weights(tmp_path / "straight", tmp_path / "resumed")
