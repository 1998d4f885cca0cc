"""FSDD digit classifier: packing makes padding invisible; the split holds out every digit; the
predict command reads MFCC files."""
import re

import numpy as np
import torch

import lstmkit
from lstmkit.tasks.transcribe.digits import DigitNet, pad, stratified_split


def test_digit_net_ignores_padding():
    lstmkit.set_seed(0)
    net = DigitNet(13, 10, hidden_size=8, num_layers=2).eval()
    x = torch.randn(1, 7, 13)
    padded = torch.cat([x, torch.randn(1, 5, 13)], dim=1)  # (1, 12, 13): 5 junk steps after the end
    torch.testing.assert_close(net(x, torch.tensor([7])), net(padded, torch.tensor([7])))
    assert net(padded, torch.tensor([7])).shape == (1, 10)


def test_stratified_split_holds_out_each_class():
    y = np.repeat(np.arange(10), 30)
    train_idx, test_idx = stratified_split(y, 0.2, seed=0)
    assert len(test_idx) == 60 and not set(train_idx) & set(test_idx)
    assert np.bincount(y[test_idx]).tolist() == [6] * 10


def test_pad_standardises_and_keeps_lengths():
    seqs = [np.full((3, 2), 6.0), np.full((5, 2), 6.0)]
    x, lengths = pad(seqs, mean=np.array([4.0, 4.0]), std=np.array([2.0, 2.0]))
    assert x.shape == (2, 5, 2) and lengths.tolist() == [3, 5]
    assert (x[0, :3] == 1).all() and (x[0, 3:] == 0).all() and (x[1] == 1).all()  # (6 - 4) / 2


def test_predict_command_names_the_digit_of_each_mfcc_file(tmp_path, capsys):
    from lstmkit.cli.main import main
    from lstmkit.data.speech_datasets import load_fsdd
    from lstmkit.tasks.transcribe import digits

    X, y = load_fsdd()
    keep = np.arange(0, len(y), 15)  # 200 recordings, every digit
    clf = digits.train(([X[k] for k in keep], y[keep]), digits.DigitsConfig(epochs=1, hidden_size=8, num_layers=1),
                       verbose=0)
    clf.save(tmp_path / "run" / "model")
    files = []
    for k in (1, 2, 3):
        np.save(tmp_path / f"d{k}.npy", X[k])
        files.append(str(tmp_path / f"d{k}.npy"))
    assert main(["transcribe", "predict", "--model", str(tmp_path / "run"), *files]) == 0
    expected = clf.predict([X[k] for k in (1, 2, 3)])
    assert capsys.readouterr().out.splitlines() == [f"{f}\t{d}" for f, d in zip(files, expected)]
    np.save(tmp_path / "wide.npy", np.zeros((4, 20)))
    for bad, says in ((str(tmp_path / "wide.npy"), r"shape \(T, 13\), got float64 of shape \(4, 20\)"),
                      ("hello.wav", "does not read audio")):
        assert main(["transcribe", "predict", "--model", str(tmp_path / "run"), bad]) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and re.search(says, err)
    assert main(["transcribe", "predict", "--model", str(tmp_path / "run"), "--beam", "4", files[0]]) == 2
    assert "digit classifier" in capsys.readouterr().err
    assert main(["transcribe", "predict", "--model", str(tmp_path / "run"), "--runtime", "onnx", files[0]]) == 2
    err = capsys.readouterr().err  # not run in torch as if onnx had been asked for
    assert len(err.splitlines()) == 1 and "no ONNX export" in err
