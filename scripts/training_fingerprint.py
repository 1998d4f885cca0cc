"""Short fixed-seed training runs of every pipeline, printed as a hash of the final weights: run it on
two versions of lstmkit (same machine, one thread) to check that a change to the training path
leaves what the pipelines learn unchanged, bit for bit. About 30 s on one quiet core.

    PYTHONPATH=src .venv/bin/python scripts/training_fingerprint.py
"""
import hashlib

import numpy as np
import torch

from lstmkit.data.pairs import read_gettext
from lstmkit.data.speech_datasets import load_asterisk, load_fsdd
from lstmkit.data.text_datasets import load_vader
from lstmkit.tasks import classify, transcribe, translate
from lstmkit.tasks.transcribe import digits


def digest(state_dict) -> str:
    """The first 16 hex digits of the SHA-256 of every tensor's name and bytes, in order."""
    h = hashlib.sha256()
    for name, t in state_dict.items():
        h.update(name.encode())
        h.update(t.detach().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def main():
    torch.set_num_threads(1)
    tr = translate.train(read_gettext("fr")[:3000], translate.Config(
        embed_size=32, hidden_size=32, vocab_size=200, epochs=2, batch_size=32, max_words=6, seed=3), verbose=0)
    print("translate ", digest(tr.model.state_dict()), tr.predict(["Permission denied", "Cannot open file %s"]))
    speech = transcribe.train(load_asterisk()[:40], transcribe.Config(
        epochs=3, hidden_size=16, num_layers=1, lm_order=0, seed=2), verbose=0)  # tempo, SpecAugment, OneCycle
    print("transcribe", digest(speech.model.state_dict()))
    X, y = load_fsdd()
    keep = np.arange(0, len(y), 5)
    clf = digits.train(([X[k] for k in keep], y[keep]), digits.DigitsConfig(epochs=2, hidden_size=16), verbose=0)
    print("digits    ", digest(clf.model.state_dict()))
    text = classify.train(load_vader("movies"), classify.Config(epochs=2, hidden_size=16, embed_dim=16), verbose=0)
    print("classify  ", digest(text.models[0].state_dict()))


if __name__ == "__main__":
    main()
