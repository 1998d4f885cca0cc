"""Synthetic speech for training: short English phrases spoken by `espeak-ng` (Debian package).

More words heard in training help a small one-speaker corpus, even in a robotic voice. The phrases
come from the English side of the gettext catalogs on the machine (software messages of one to four
words without format placeholders or markup, normalised like transcripts); each is spoken by one of a few female US-English voice variants
at one of three rates, into a WAV file. Synthetic speech only ever trains the acoustic model: it
is never evaluated, and the language model is fit on real transcripts (see `transcribe_train.train`).

Example:
    >>> items = synthesize(phrases(3), "/tmp/synth")          # doctest: +SKIP
    >>> items[0].text                                          # doctest: +SKIP
    'tab curvature'
"""
import random
import shutil
import subprocess
from pathlib import Path

from ..errors import DataError
from .pairs import read_gettext
from .speech_datasets import ENGLISH, Utterance, normalize_text

VOICES = ("en-us+f3", "en-us+f4", "en-us+f2", "en+f5")
RATES = (140, 160, 175)  # words per minute


def phrases(n: int, seed: int = 0, lang: str = "fr", max_words: int = 4) -> list[str]:
    """`n` distinct short English phrases (1 to `max_words` words) from the gettext catalogs, shuffled.

    Args:
        n: how many.
        seed: the shuffle's seed.
        lang: the catalogs whose English source messages are read (any installed language).
        max_words: the longest phrase.

    Raises:
        DataError: the catalogs are missing or hold fewer than `n` such phrases.
    """
    try:
        catalog = read_gettext(lang)
    except DataError as e:
        raise DataError(f"synthetic: the phrases come from the machine's gettext catalogs ({e})") from None
    found = set()
    for english, _ in catalog:
        if any(c in english for c in "%{$<\\"):
            continue  # format strings and markup: "%s: not found" would be spoken as "s not found"
        text = normalize_text(english)
        if text and set(text) <= set(ENGLISH) and len(text.split()) <= max_words and len(text) <= 40:
            found.add(text)
    if len(found) < n:
        raise DataError(f"synthetic: asked for {n} phrases, the {lang} catalogs hold {len(found)}")
    out = sorted(found)
    random.Random(seed).shuffle(out)
    return out[:n]


def synthesize(texts, out_dir, seed: int = 0) -> list[Utterance]:
    """Speak each text with espeak-ng into `out_dir/sNNNNN.wav` (voice and rate vary per text).

    Returns:
        one Utterance per text, in order.

    Raises:
        DataError: espeak-ng is not installed, or it failed on a text.
    """
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise DataError("synthetic: espeak-ng not found (Debian: apt-get install espeak-ng)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    items = []
    for k, text in enumerate(texts):
        path = out_dir / f"s{k:05d}.wav"
        cmd = [exe, "-v", VOICES[k % len(VOICES)], "-s", str(rng.choice(RATES)), "-w", str(path), text]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0 or not path.is_file():
            raise DataError(f"synthetic: espeak-ng failed on {text!r}: {done.stderr.strip()[:200]}")
        items.append(Utterance(f"synthetic/{k}", path, text))
    return items
