"""Model directories written before tasks became packages still load and predict as they did."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from lstmkit.data.series import load_dataset
from lstmkit.errors import ModelFileError
from lstmkit.tasks.classify import Classifier
from lstmkit.tasks.forecast import Forecaster
from lstmkit.tasks.transcribe import Transcriber
from lstmkit.tasks.translate import Translator

LEGACY = Path(__file__).parent / "fixtures" / "legacy"
EXPECTED = json.loads((LEGACY / "expected.json").read_text())


def test_forecaster_loads_and_forecasts_as_before():
    f = Forecaster.load(LEGACY / "forecast")
    assert f.config.hidden_size == 4 and f.config.test_size == 24
    got = f.predict(data=load_dataset("airpassengers")[0]).values
    np.testing.assert_allclose(got, EXPECTED["forecast"], rtol=1e-5)


def test_classifier_loads_renamed_fields_and_labels_as_before():
    clf = Classifier.load(LEGACY / "classify")
    assert clf.config.test_fraction == 0.2 and clf.config.val_fraction == 0.1  # were test_size, val_size
    got = clf.predict(["good story", "awful film"])
    assert [y for y, _ in got] == [y for y, _ in EXPECTED["classify"]]
    np.testing.assert_allclose([p for _, p in got], [p for _, p in EXPECTED["classify"]], rtol=1e-5)


def test_translator_loads_and_translates_as_before():
    tr = Translator.load(LEGACY / "translate")
    assert tr.config.num_layers == 1  # was encoder_layers
    assert tr.predict(["open file", "close door"]) == EXPECTED["translate"]


def test_transcriber_loads_recipe_and_decodes_as_before():
    t = Transcriber.load(LEGACY / "transcribe")
    assert (t.config.hidden_size, t.config.num_layers) == (8, 1)  # were hidden, layers
    feats = [np.random.default_rng(0).standard_normal((40, t.config.features.n_features)).astype(np.float32)]
    text, log_probs = EXPECTED["transcribe"]
    assert t.decode(t.log_probs(feats)[0], beam=1) == text
    np.testing.assert_allclose(t.log_probs(feats)[0], log_probs, atol=1e-4)


def test_a_legacy_directory_without_its_config_is_refused_with_how_to_retrain(tmp_path):
    damaged = shutil.copytree(LEGACY / "classify", tmp_path / "classify")
    config = json.loads((damaged / "config.json").read_text())
    del config["classify"]
    (damaged / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="retrain it with `lstmkit classify train`"):
        Classifier.load(damaged)
