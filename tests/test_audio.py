"""Audio features and speech data loaders: shapes, normalisation, resampling, masks, bad files."""
import numpy as np
import pytest
import soundfile as sf
import torch

from lstmkit.data.audio import (FeatureConfig, featurize, load_audio, normalize, resample,
                                spec_augment, speed_perturb)
from lstmkit.data.speech_datasets import (ASTERISK_AUDIO, load_asterisk, load_folder, load_fsdd,
                                          normalize_text, read_transcripts)
from lstmkit.errors import DataError, DataWarning
from lstmkit.data.speech_datasets import ENGLISH

SEVEN = ASTERISK_AUDIO / "digits" / "7.wav"


def _tone(seconds, rate=8000, freq=440.0):
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_feature_shapes_for_logmel_and_mfcc():
    wave = _tone(1.0)
    assert featurize([wave], FeatureConfig())[0].shape == (101, 40)  # 1 + 8000 // 80 frames
    mfcc = FeatureConfig(kind="mfcc", n_mfcc=13)
    assert featurize([wave], mfcc)[0].shape == (101, mfcc.n_features) == (101, 13)


def test_features_are_normalised_per_utterance():
    feats = featurize([load_audio(SEVEN)], FeatureConfig())[0]
    np.testing.assert_allclose(feats.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(feats.std(axis=0), 1, atol=1e-2)
    x = np.random.default_rng(0).normal(5, 3, (30, 4))
    np.testing.assert_allclose(normalize(x).std(axis=0), 1, atol=1e-3)


def test_batched_features_match_one_by_one():
    rng = np.random.default_rng(0)
    waves = [rng.normal(0, 0.1, n).astype(np.float32) for n in (4000, 12000, 800, 8080)]
    together = featurize(waves, FeatureConfig(), batch_size=4)
    for wave, feats in zip(waves, together):
        alone = featurize([wave], FeatureConfig())[0]
        assert feats.shape == alone.shape
        # frames away from the end see no padding; the last frames see zeros instead of reflection
        np.testing.assert_allclose(feats[:-3], alone[:-3], atol=0.05)


def test_load_audio_resamples_and_mixes_to_mono(tmp_path):
    stereo = np.stack([_tone(0.5, 16000), _tone(0.5, 16000)], axis=1)  # (8000, 2) at 16 kHz
    path = tmp_path / "tone.flac"
    sf.write(path, stereo, 16000)
    wave = load_audio(path, 8000)
    assert wave.shape == (4000,) and wave.dtype == np.float32
    assert resample(np.ones(100, np.float32), 8000, 8000).shape == (100,)
    assert speed_perturb(np.zeros(1000, np.float32), 0.9).shape == (1110,)


@pytest.mark.parametrize("content", [b"", b"this is not audio at all"])
def test_bad_audio_files_raise_data_error(tmp_path, content):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(DataError, match="bad.wav"):
        load_audio(path)


def test_empty_and_missing_audio_raise_data_error(tmp_path):
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 8000)
    with pytest.raises(DataError, match="empty"):
        load_audio(tmp_path / "empty.wav")
    with pytest.raises(DataError, match="nothere.wav"):
        load_audio(tmp_path / "nothere.wav")


def test_spec_augment_masks_inside_each_utterance_only():
    feats = torch.ones(2, 100, 40)
    gen = torch.Generator().manual_seed(0)
    out = spec_augment(feats, [100, 50], freq_masks=2, freq_width=8, time_masks=2, time_width=0.2,
                       generator=gen)
    assert out.shape == feats.shape and torch.equal(feats, torch.ones(2, 100, 40))
    assert (out == 0).any() and (out == 1).any()
    again = spec_augment(feats, [100, 50], freq_masks=2, freq_width=8, time_masks=2, time_width=0.2,
                         generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    time_masked = (out[1] == 0).all(dim=1)  # whole frames zeroed by time masks
    assert not time_masked[50:].any()


def test_read_transcripts_accepts_tabs_and_colons(tmp_path):
    file = tmp_path / "t.txt"
    file.write_text("; comment\n\na/one\tOne thing\nb/two: Two: things\n")
    assert read_transcripts(file) == {"a/one": "One thing", "b/two": "Two: things"}
    file.write_text("no separator here\n")
    with pytest.raises(DataError, match="line 1"):
        read_transcripts(file)


def test_load_folder_lists_transcript_lines_without_audio(tmp_path):
    (tmp_path / "sub").mkdir()
    sf.write(tmp_path / "sub" / "x.wav", _tone(0.1), 8000)
    (tmp_path / "t.tsv").write_text("sub/x\thello\nsub/y\tworld\nz.wav\tagain\n")
    with pytest.warns(DataWarning, match=r"skipped 2 of 3 entries: no audio file in .* for sub/y, z.wav"):
        assert [u.id for u in load_folder(tmp_path, tmp_path / "t.tsv")] == ["sub/x"]
    items = load_folder(tmp_path, tmp_path / "t.tsv", skip_missing=True)
    assert [(u.id, u.text, u.path.name) for u in items] == [("sub/x", "hello", "x.wav")]


def test_normalize_text_spells_digits_and_drops_punctuation():
    assert normalize_text("Press 1, or the pound-key!") == "press one or the pound key"
    assert normalize_text("It's 3D.") == "it's three d"
    assert normalize_text("Café") == "café"  # kept, so that the alphabet check can report it


def test_asterisk_prompts_load_with_normalised_transcripts():
    items = load_asterisk()
    assert 500 < len(items) < 568
    texts = {u.id: u.text for u in items}
    assert texts["digits/7"] == "seven"
    assert sum(len(t.split()) >= 3 for t in texts.values()) > 200  # whole sentences are included
    assert set("".join(texts.values())) <= set(ENGLISH)
    assert all(u.path.is_file() for u in items)


def test_fsdd_mfcc_sequences():
    X, y = load_fsdd()
    assert len(X) == len(y) == 3000
    assert all(x.ndim == 2 and x.shape[1] == 13 for x in X[:50])
    assert np.bincount(y).tolist() == [300] * 10
