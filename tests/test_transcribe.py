"""Speech recognition: CTC decoding on hand-made matrices, a small model overfit on real prompts,
save -> load -> transcribe, the command, and bad input."""
import io
import json
import shutil
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from lstmkit.cli.main import main
from lstmkit.data.audio import load_audio, resample
from lstmkit.data.speech_datasets import ASTERISK_AUDIO, ENGLISH, load_asterisk, load_folder
from lstmkit.errors import DataError, DataWarning, ModelFileError
from lstmkit.tasks.transcribe import Config as TranscribeConfig
from lstmkit.tasks.transcribe import Transcriber, split, train_on
from lstmkit.tasks.transcribe import score as evaluate
from lstmkit.tasks.transcribe.ctc import beam_decode, greedy_decode
from lstmkit.tasks.transcribe.net import Alphabet

FEW = ("digits/1", "digits/2", "digits/3", "auth-thankyou", "conf-locked")
TINY = dict(stack=2, hidden_size=64, num_layers=1, dropout=0.0, batch_frames=100_000, learning_rate=1e-2,
            speeds=(1.0,), spec_augment=False)


def _sequence_log_prob(log_probs, labels):
    """log P(labels | frames), summed over all CTC alignments (torch's CTC loss as the oracle)."""
    lp = torch.as_tensor(log_probs, dtype=torch.float64).unsqueeze(1)  # (T, 1, V)
    target = torch.tensor([labels], dtype=torch.long) if labels else torch.zeros(1, 0, dtype=torch.long)
    nll = torch.nn.functional.ctc_loss(lp, target, [lp.shape[0]], [len(labels)], reduction="sum")
    return -float(nll)


def test_greedy_merges_repeats_and_drops_blanks():
    # frames read a a - a b b -  ->  "aab"
    best = [1, 1, 0, 1, 2, 2, 0]
    lp = np.log(np.full((7, 3), 0.05))
    lp[np.arange(7), best] = np.log(0.9)
    assert greedy_decode(lp) == [1, 1, 2]
    assert greedy_decode(np.log(np.full((3, 3), 1 / 3))) == []  # ties go to index 0, the blank


def test_beam_finds_the_label_that_greedy_misses():
    # each frame prefers blank (0.6), but "a" collects 0.64 over its three alignments vs 0.36 for ""
    lp = np.log(np.array([[0.6, 0.4], [0.6, 0.4]]))
    assert greedy_decode(lp) == []
    assert beam_decode(lp, beam=4) == [1]
    assert _sequence_log_prob(lp, [1]) == pytest.approx(np.log(0.64))


def test_beam_is_at_least_as_good_as_greedy_on_random_matrices():
    rng = np.random.default_rng(0)
    better = 0
    for _ in range(30):
        logits = rng.normal(0, 1.5, (6, 4))
        lp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        g, b = greedy_decode(lp), beam_decode(lp, beam=32)
        assert _sequence_log_prob(lp, b) >= _sequence_log_prob(lp, g) - 1e-9
        better += _sequence_log_prob(lp, b) > _sequence_log_prob(lp, g) + 1e-9
    assert better > 0  # the matrices include cases where the search pays off


def test_alphabet_reports_characters_it_lacks():
    a = Alphabet(ENGLISH)
    assert a.decode(a.encode("it's one")) == "it's one"
    with pytest.raises(DataError, match="'é'"):
        a.encode("café")


@pytest.fixture(scope="module")
def overfit(tmp_path_factory):
    """A small model trained on five real prompts until it knows them by heart."""
    items = [u for u in load_asterisk() if u.id in FEW]
    torch.set_num_threads(1)
    model = train_on(items, TranscribeConfig(epochs=150, **TINY), verbose=0)
    path = model.save(tmp_path_factory.mktemp("model") / "speech")
    return items, model, model.history["loss"], path


def test_small_model_learns_real_utterances(overfit):
    items, model, history, _ = overfit
    assert history[-1] < 0.2 * history[0]
    result = evaluate(model, items)
    assert result["all"]["cer"] < 0.05, result["examples"]
    assert result["all"]["n"] == 5 and result["sentences"]["n"] == 1  # "this conference is locked"


def test_save_load_transcribe_round_trip(overfit, tmp_path):
    items, model, _, path = overfit
    files = [u.path for u in items]
    before = model.predict(files, beam=1)
    loaded = Transcriber.load(path)
    assert loaded.predict(files, beam=1) == before
    assert loaded.lm is not None and loaded.lm.score("thank you") == model.lm.score("thank you")
    # the default decoding (beam search with the language model) agrees with greedy on a
    # confident model, and with and without the language model
    assert loaded.predict(files) == loaded.predict(files, beam=8, lm_weight=0) == before
    wide = tmp_path / "one16k.wav"  # another sample rate is resampled, not refused
    sf.write(wide, resample(load_audio(items[0].path), 8000, 16000), 16000)
    assert loaded.predict([wide]) == before[:1]


def test_training_draws_a_live_progress_bar_on_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("lstmkit.models.progress.INTERVAL", 0.0)
    monkeypatch.setattr(sys, "stdout", Terminal())
    items = [u for u in load_asterisk() if u.id in FEW[:2]]
    train_on(items, TranscribeConfig(epochs=2, lm_order=0, **{**TINY, "hidden_size": 8, "batch_frames": 400}))
    shown = sys.stdout.getvalue()
    assert "Epoch 2/2" in shown and "\r1/1 [" in shown and shown.endswith("\n")  # the bar knows each epoch's batches
    assert "loss" in shown.splitlines()[-1]


def test_load_refuses_foreign_model_dirs(tmp_path):
    with pytest.raises(ModelFileError):
        Transcriber.load(tmp_path / "missing")


def _folder(tmp_path, extra=""):
    data = tmp_path / "data"
    data.mkdir()
    lines = []
    for k, u in enumerate(u for u in load_asterisk() if u.id in FEW):
        shutil.copy(u.path, data / f"utt{k}.wav")
        lines.append(f"utt{k}\t{u.text}")
    (tmp_path / "t.tsv").write_text("\n".join(lines) + "\n" + extra)
    return data, tmp_path / "t.tsv"


def test_cli_train_then_transcribe(tmp_path, capsys):
    data, tsv = _folder(tmp_path)
    out = tmp_path / "run"
    rc = main(["transcribe", "train", "--data", str(data), "--transcripts", str(tsv), "--epochs", "2",
               "--hidden", "32", "--layers", "1", "--out", str(out), "--quiet"])
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"cer", "wer"} <= set(metrics["lstm"]) and metrics["lstm"]["cer"] >= 0
    assert metrics["lstm"]["beam"] > 1 and {"cer", "wer"} <= set(metrics["lstm_no_lm"])
    capsys.readouterr()
    assert main(["transcribe", "predict", "--model", str(out / "model"), str(data / "utt0.wav"), "--beam", "3"]) == 0
    assert capsys.readouterr().out.count("\n") == 1
    prep = out / "model" / "preprocessing.json"  # a model without a language model
    prep.write_text(json.dumps({k: v for k, v in json.loads(prep.read_text()).items() if k != "lm"}))
    assert main(["transcribe", "predict", "--model", str(out / "model"), str(data / "utt0.wav"), "--lm-weight", "0.5"]) == 2
    assert "no language model" in capsys.readouterr().err


def test_cli_reports_transcript_lines_without_audio(tmp_path, capsys):
    data, tsv = _folder(tmp_path, "ghost1\thello\nghost2\tworld\n")
    with pytest.warns(DataWarning, match="no audio file in .* for ghost1, ghost2$"):  # skipped, the rest kept
        assert len(load_folder(data, tsv)) == len(tsv.read_text().splitlines()) - 2
    tsv.write_text("ghost1\thello\nghost2\tworld\n")
    assert main(["transcribe", "train", "--data", str(data), "--transcripts", str(tsv)]) == 2
    err = capsys.readouterr().err
    assert "0 without text, 2 without audio" in err and err.count("\n") == 1


def test_cli_reports_characters_outside_the_alphabet(tmp_path, capsys):
    data, tsv = _folder(tmp_path)
    tsv.write_text(tsv.read_text().replace("thank you", "merci café"))
    assert main(["transcribe", "train", "--data", str(data), "--transcripts", str(tsv)]) == 2
    err = capsys.readouterr().err
    assert "'é'" in err and err.count("\n") == 1


def test_cli_reports_unreadable_and_empty_audio(overfit, tmp_path, capsys):
    path = overfit[3]
    (tmp_path / "junk.wav").write_text("not audio")
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 8000)
    for name in ("junk.wav", "empty.wav"):
        assert main(["transcribe", "predict", "--model", str(path), str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert name in err and err.count("\n") == 1
    assert main(["transcribe", "predict", "--model", str(tmp_path), str(ASTERISK_AUDIO / "digits/1.wav")]) == 2
    assert "model" in capsys.readouterr().err


def test_split_holds_out_words_and_sentences():
    items = load_asterisk()
    train_items, test_items = split(items, 0.15, seed=0)
    assert len(train_items) + len(test_items) == len(items)
    assert not {u.id for u in train_items} & {u.id for u in test_items}
    assert sum(len(u.text.split()) >= 3 for u in test_items) >= 30


def test_cli_refuses_bad_arguments(capsys):
    assert main(["transcribe", "train", "--fsdd", "--asterisk"]) == 2
    assert "--fsdd: trains on the FSDD MFCCs" in capsys.readouterr().err
    assert main(["transcribe", "train", "--asterisk", "--beam", "0"]) == 2
    assert "--beam" in capsys.readouterr().err
    assert main(["transcribe", "train", "--asterisk", "--lm-weight", "-1"]) == 2
    assert "--lm-weight" in capsys.readouterr().err
    assert main(["transcribe", "train", "--asterisk", "--epochs", "0"]) == 2
    assert "--epochs: expected a positive int" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # neither an action nor --model: argparse's usage error
        main(["transcribe", "some.wav"])
    assert "invalid choice: 'some.wav'" in capsys.readouterr().err
