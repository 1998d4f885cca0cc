"""Audio for speech models: read a file, resample, compute normalised log-mel features, mask them.

Reading is `soundfile`'s (WAV, FLAC, OGG, ...), resampling is `scipy.signal.resample_poly`'s and the
mel filterbank is `librosa`'s: no DSP is written here, only the choices that fit speech recognition.
Features are frames of 25 ms every 10 ms by default (the usual setting since HTK), log-compressed and
normalised per utterance to zero mean and unit variance per band, which removes the channel's and the
speaker's constant colouring (cepstral mean and variance normalisation).

Example:
    >>> import numpy as np
    >>> from lstmkit.data.audio import FeatureConfig, featurize
    >>> wave = np.sin(np.linspace(0, 2000, 8000)).astype("float32")   # 1 s at 8 kHz
    >>> featurize([wave], FeatureConfig())[0].shape
    (101, 40)
"""
from dataclasses import asdict, dataclass
from math import gcd
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError


@dataclass(frozen=True)
class FeatureConfig:
    """How audio becomes features; saved with a model so that inference repeats it exactly."""
    sample_rate: int = 8000  # telephone speech; other rates are resampled to this one
    n_mels: int = 40  # enough bands to resolve formants below 4 kHz
    win_ms: float = 25.0
    hop_ms: float = 10.0
    kind: str = "logmel"  # "logmel" or "mfcc" (the DCT of the log-mel bands, first n_mfcc kept)
    n_mfcc: int = 13

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def n_features(self) -> int:
        return self.n_mels if self.kind == "logmel" else self.n_mfcc


def load_audio(path, sample_rate: int | None = None) -> np.ndarray:
    """Read an audio file as mono float32, resampled to `sample_rate` when given.

    Args:
        path: a WAV, FLAC, OGG or any file libsndfile reads, or such a file's bytes as a binary
            file object (`io.BytesIO`; named in errors by its `name` attribute when it has one).
        sample_rate: the rate wanted (Hz); None keeps the file's rate.

    Returns:
        (N,) float32 samples in [-1, 1].

    Raises:
        DataError: the file is missing, unreadable, holds no samples or non-finite ones.

    Example:
        >>> load_audio("/usr/share/asterisk/sounds/en_US_f_Allison/digits/7.wav").dtype
        dtype('float32')
    """
    import soundfile as sf

    in_memory = hasattr(path, "read")
    source, name = (path, getattr(path, "name", "the audio")) if in_memory else (str(path), Path(path))
    try:
        wave, rate = sf.read(source, dtype="float32", always_2d=True)  # (N, channels)
    except (sf.LibsndfileError, RuntimeError, OSError, TypeError, ValueError) as e:
        reason = str(e).rsplit(": ", 1)[-1] if in_memory else " ".join(str(e).split())[:200]  # not the object's repr
        raise DataError(f"audio: cannot read {name} as audio ({reason})") from None
    if wave.shape[0] == 0:
        raise DataError(f"audio: {name} holds no samples (empty audio)")
    bad = ~np.isfinite(wave).all(axis=1)
    if bad.any():
        raise DataError(f"audio: {name} holds NaN or infinite samples (the first at sample {int(bad.argmax())}); "
                        "expected finite samples")
    wave = wave.mean(axis=1)  # (N,) mono
    return resample(wave, rate, sample_rate) if sample_rate else wave


def resample(wave: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Resample with a polyphase filter (`scipy.signal.resample_poly`), exact for integer rates.

    Args:
        wave: (N,) samples at `rate` Hz.
        rate, target: source and target rates in Hz.

    Returns:
        (about N * target / rate,) float32 samples.

    Example:
        >>> resample(np.zeros(16000, "float32"), 16000, 8000).shape
        (8000,)
    """
    from scipy.signal import resample_poly

    if rate == target:
        return wave.astype(np.float32, copy=False)
    g = gcd(int(rate), int(target))
    return resample_poly(wave, target // g, rate // g).astype(np.float32)


def speed_perturb(wave: np.ndarray, factor: float) -> np.ndarray:
    """Play `wave` `factor` times faster (tempo and pitch together, as in Ko et al. 2015).

    Example:
        >>> speed_perturb(np.zeros(1100, "float32"), 1.1).shape
        (1001,)
    """
    num, den = round(100 / factor), 100  # e.g. 1.1 -> resample by 91/100
    return resample(wave, den, num) if factor != 1.0 else wave


def featurize(waves, config: FeatureConfig, *, batch_size: int = 16) -> list[np.ndarray]:
    """Normalised log-mel (or MFCC) features for many waveforms, computed in batched librosa calls.

    Waves are sorted by length and transformed `batch_size` at a time, zero-padded to the longest
    of their batch, so that padding costs little; each result is cut to its own frame count before
    normalisation, so padding never leaks into an utterance's statistics.

    Args:
        waves: sequence of (N_i,) float32 arrays at `config.sample_rate`.
        config: a FeatureConfig.
        batch_size: waves per librosa call (keyword-only).

    Returns:
        list of (T_i, n_features) float32 arrays in the order of `waves`, T_i = 1 + N_i // hop.
    """
    if config.kind not in ("logmel", "mfcc"):
        raise ValueError(f"kind: expected 'logmel' or 'mfcc', got {config.kind!r}")
    order = sorted(range(len(waves)), key=lambda k: len(waves[k]))
    out = [None] * len(waves)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        for k, feats in zip(chunk, _featurize_batch([waves[k] for k in chunk], config)):
            out[k] = feats
    return out


def _featurize_batch(waves, config):
    import librosa

    sr = config.sample_rate
    n_fft = int(round(sr * config.win_ms / 1000))
    hop = int(round(sr * config.hop_ms / 1000))
    batch = np.zeros((len(waves), max(len(w) for w in waves)), np.float32)  # (B, N)
    for row, w in zip(batch, waves):
        row[: len(w)] = w
    mel = librosa.feature.melspectrogram(y=batch, sr=sr, n_fft=n_fft, hop_length=hop,
                                         n_mels=config.n_mels, fmin=20.0, fmax=sr / 2)  # (B, M, T)
    feats = np.log(mel + 1e-6)
    if config.kind == "mfcc":
        feats = librosa.feature.mfcc(S=feats, n_mfcc=config.n_mfcc)  # (B, n_mfcc, T)
    return [normalize(f[:, : 1 + len(w) // hop].T) for f, w in zip(feats, waves)]


def normalize(feats: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per feature over one utterance's frames: (T, F) -> (T, F) float32.

    Example:
        >>> f = normalize(np.random.default_rng(0).normal(3, 2, (50, 4)))
        >>> bool(abs(f.mean()) < 1e-6 and abs(f.std() - 1) < 1e-3)
        True
    """
    mean = feats.mean(axis=0, keepdims=True)
    std = feats.std(axis=0, keepdims=True)
    return ((feats - mean) / (std + 1e-5)).astype(np.float32)


def spec_augment(feats: torch.Tensor, lengths, *, freq_masks: int = 2, freq_width: int = 8,
                 time_masks: int = 2, time_width: float = 0.05, generator=None) -> torch.Tensor:
    """SpecAugment's frequency and time masking (Park et al. 2019) on a padded batch, for training.

    Masked cells are set to 0, the mean of normalised features. Time masks are at most
    `time_width` of each utterance's own length, so short words are not wiped out.

    Args:
        feats: (B, T, F) padded features; not modified.
        lengths: (B,) valid frames per utterance.
        freq_masks, freq_width: how many bands of up to `freq_width` features to mask.
        time_masks, time_width: how many spans of up to `time_width * length` frames to mask.
        generator: a torch.Generator for repeatable masks.

    Returns:
        (B, T, F) masked copy.

    Example:
        >>> spec_augment(torch.ones(2, 100, 40), [100, 60]).shape
        torch.Size([2, 100, 40])
    """
    out = feats.clone()
    n_feat = feats.shape[2]

    def draw(high):
        return int(torch.randint(0, max(int(high), 0) + 1, (1,), generator=generator))

    for b, length in enumerate(lengths):
        for _ in range(freq_masks):
            w = draw(freq_width)
            f0 = draw(n_feat - w)
            out[b, :, f0:f0 + w] = 0
        for _ in range(time_masks):
            w = draw(time_width * int(length))
            t0 = draw(int(length) - w)
            out[b, t0:t0 + w, :] = 0
    return out
