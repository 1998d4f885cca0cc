"""The corpus of Keras-style LSTM programs in tests/keras_programs/, each run through the
keras -> lstmkit import rewrite (only its import lines change) and checked by its own asserts on
its results (a loss that falls, an accuracy above chance, shapes)."""
import re
from pathlib import Path

import numpy as np
import pytest
import torch

PROGRAMS = sorted((Path(__file__).parent / "keras_programs").glob("p*.py"))


def rewrite(source: str) -> str:
    """`import keras` -> `import lstmkit as keras`; `from keras.x import y` -> `from lstmkit.x import y`."""
    source = re.sub(r"^(\s*)import keras\s*$", r"\1import lstmkit as keras", source, flags=re.M)
    return re.sub(r"^(\s*)from keras(\.[\w.]+)? import", r"\1from lstmkit\2 import", source, flags=re.M)


def test_the_rewrite_changes_only_import_lines():
    src = "import keras\nfrom keras.layers import LSTM\nfrom keras import layers\nx = keras.layers.LSTM(2)\n"
    assert rewrite(src) == ("import lstmkit as keras\nfrom lstmkit.layers import LSTM\n"
                            "from lstmkit import layers\nx = keras.layers.LSTM(2)\n")


def test_the_corpus_is_large_enough():
    assert len(PROGRAMS) >= 15, [p.name for p in PROGRAMS]


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.stem)
def test_program_runs_on_lstmkit_and_meets_its_checks(path, tmp_path, monkeypatch):
    source = rewrite(path.read_text())
    assert not re.search(r"^\s*(from|import) keras\b", source, flags=re.M)  # nothing of Keras itself runs
    monkeypatch.chdir(tmp_path)  # programs that save models write here
    torch.manual_seed(0)
    np.random.seed(0)
    exec(compile(source, str(path), "exec"), {"__name__": "__main__"})
