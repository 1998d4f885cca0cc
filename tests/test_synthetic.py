"""Synthetic speech (espeak-ng) as extra training data for the acoustic model only."""
import pytest

from lstmkit.cli.main import main
from lstmkit.data import synthetic
from lstmkit.data.audio import load_audio
from lstmkit.data.speech_datasets import load_asterisk
from lstmkit.errors import DataError
from lstmkit.tasks.transcribe import Config as TranscribeConfig
from lstmkit.tasks.transcribe import train_on
from lstmkit.tasks.transcribe.charlm import CharNgramLM


def test_phrases_are_short_distinct_and_normalised():
    found = synthetic.phrases(50, seed=3)
    assert len(set(found)) == 50 and found == synthetic.phrases(50, seed=3)
    assert all(1 <= len(p.split()) <= 4 and set(p) <= set(synthetic.ENGLISH) for p in found)
    with pytest.raises(DataError, match="asked for"):
        synthetic.phrases(10**7)


def test_espeak_speaks_each_phrase(tmp_path):
    items = synthetic.synthesize(["press one", "goodbye"], tmp_path)
    assert [u.text for u in items] == ["press one", "goodbye"]
    for u in items:
        seconds = len(load_audio(u.path, 8000)) / 8000  # espeak writes 22.05 kHz: resampled
        assert 0.3 < seconds < 3


def test_missing_espeak_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(synthetic.shutil, "which", lambda name: None)
    with pytest.raises(DataError, match="apt-get install espeak-ng"):
        synthetic.synthesize(["hello"], tmp_path)


def test_synthetic_speech_trains_the_acoustic_model_not_the_language_model(monkeypatch):
    spoken = []

    def spy(texts, out_dir, seed=0):
        spoken.extend(texts)
        return real_synthesize(texts, out_dir, seed)

    real_synthesize = synthetic.synthesize
    monkeypatch.setattr(synthetic, "synthesize", spy)
    items = [u for u in load_asterisk() if u.id in ("digits/1", "digits/2")]
    config = TranscribeConfig(epochs=1, hidden_size=8, num_layers=1, synthetic=3, speeds=(1.0,), lm_order=3)
    model = train_on(items, config, verbose=0)
    assert len(spoken) == 3
    real_only = CharNgramLM(model.alphabet.chars, 3).fit([u.text for u in items])
    assert model.lm.to_dict() == real_only.to_dict()


def test_cli_refuses_a_negative_count(capsys):
    assert main(["transcribe", "train", "--asterisk", "--synthetic", "-1"]) == 2
    assert "--synthetic" in capsys.readouterr().err
