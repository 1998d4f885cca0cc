"""Every task's model directory is checked against its schema before anything is built: a damaged
field, a size that does not agree with another file, or weights that do not fit the config give one
line (ModelFileError) naming the file and the field or tensor."""
import json
import shutil
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from lstmkit.errors import ModelFileError

sys.path.insert(0, str(Path(__file__).parent / "fuzz"))
import kinds  # noqa: E402  (the fuzzer's small valid directory of each kind)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("task-files")
    made = {}

    def get(kind):
        if kind not in made:
            made[kind] = root / kind
            kinds.KINDS[kind].make_dir(made[kind])
        return made[kind]
    return get


def _set(obj, path, value):
    *parents, last = path
    for key in parents:
        obj = obj[key]
    obj[last] = value


HUGE = 10 ** 9
FIELDS = [  # kind, file, field path, value, what the message says
    ("forecast", "config.json", ("config", "ensemble"), HUGE, "config.ensemble: expected an integer in [1, 64]"),
    ("forecast", "config.json", ("ensemble",), HUGE, "ensemble: expected an integer in [1, 64]"),
    ("forecast", "config.json", ("config", "hidden_size"), True, "config.hidden_size: expected an integer"),
    ("forecast", "config.json", ("config", "covariates"), [3], "config.covariates: expected a list of column"),
    ("forecast", "config.json", ("net", "lookback"), -3, "net.lookback: expected an integer in [1, 65536]"),
    ("forecast", "config.json", ("net", "n_features"), 9, "net.n_features: expected 3 (targets + covariates + n_known)"),
    ("forecast", "preprocessing.json", ("target_scaler", "std"), [0.0], "target_scaler.std[0]: expected a finite number in (0"),
    ("forecast", "preprocessing.json", ("target_scaler", "mean"), [1.0, 2.0], "target_scaler.mean: expected 1 (its length"),
    ("forecast", "preprocessing.json", ("freq",), "1e+308", "freq: expected a pandas frequency"),
    ("forecast", "preprocessing.json", ("freq",), "0D", "freq: expected a pandas frequency"),
    ("forecast", "preprocessing.json", ("season",), HUGE, "season: expected an integer in [1, 65536]"),
    ("forecast", "preprocessing.json", ("targets",), [["passengers"]], "targets[0]: expected a string"),
    ("classify", "config.json", ("networks",), HUGE, "networks: expected an integer in [1, 64]"),
    ("classify", "config.json", ("vocab_size",), 7, "vocab_size: expected"),
    ("classify", "preprocessing.json", ("text", "vocab", "tokens"), ["<pad>", "a", "a"], "text.vocab.tokens: expected distinct"),
    ("classify", "preprocessing.json", ("labels",), [], "labels: expected a list of 1 to"),
    ("classify", "preprocessing.json", ("text", "max_len"), float("1e300"), "text.max_len: expected an integer"),
    ("translate", "config.json", ("config", "embed_size"), "8", "config.embed_size: expected an integer"),
    ("translate", "config.json", ("config", "dropout"), 2.0, "config.dropout: expected a finite number in [0, 1)"),
    ("translate", "preprocessing.json", ("tokenizer", "model_proto"), 5, "tokenizer.model_proto: expected a string"),
    ("translate", "config.json", ("vocab_size",), 12, "tokenizer.model_proto: expected 12"),
    ("transcribe", "config.json", ("config", "features", "kind"), 3, "config.features.kind: expected one of"),
    ("transcribe", "config.json", ("config", "beam"), "4", "config.beam: expected an integer"),
    ("transcribe", "preprocessing.json", ("alphabet", 0), "ab", "alphabet[0]: expected a string of 1 to 1"),
    ("transcribe", "preprocessing.json", ("alphabet", 1), " ", "alphabet: expected distinct items"),
    ("transcribe", "preprocessing.json", ("lm", "order"), 99, "lm.order: expected an integer in [1, 32]"),
    ("transcribe", "preprocessing.json", ("lm", "discount"), 1.5, "lm.discount: expected a finite number in (0"),
    ("transcribe", "preprocessing.json", ("lm", "counts", 1), {"a": {"b": -1}}, "lm.counts[1].a.b: expected an integer in [1"),
    ("transcribe", "preprocessing.json", ("lm", "counts", 0), {"": {"#": 2}}, "lm.counts[0].: expected next characters"),
    ("transcribe", "preprocessing.json", ("lm", "alphabet"), "xyz", "lm.alphabet: expected"),
    ("digits", "config.json", ("n_features",), 12, "mean: expected 12 (its length"),
    ("digits", "preprocessing.json", ("std", 0), -1.0, "std[0]: expected a finite number in (0"),
]


def _load(kind, path):
    with pytest.raises(ModelFileError) as e:
        kinds.KINDS[kind].load_and_use(path)
    message = str(e.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("kind, file, field, value, says", FIELDS, ids=[f"{k}-{'.'.join(map(str, f))}" for k, _, f, _, _ in FIELDS])
def test_a_bad_field_is_refused_in_one_line_naming_file_and_field(base, tmp_path, kind, file, field, value, says):
    path = shutil.copytree(base(kind), tmp_path / "model")
    content = json.loads((path / file).read_text())
    _set(content, field, value)
    (path / file).write_text(json.dumps(content))
    message = _load(kind, path)
    assert says in message and ("config.json" in message or "preprocessing.json" in message), message


WEIGHTS = [  # kind, change to model.safetensors, what the message says
    ("forecast", lambda t: t.pop("1.lstm.bias_hh_l0"), "missing ['1.lstm.bias_hh_l0']"),
    ("classify", lambda t: t.update({"2.extra": t["0.output.bias"].clone()}), "unexpected ['2.extra']"),
    ("translate", lambda t: t.update({"embed.weight": t["embed.weight"][:, :3].contiguous()}), "tensor 'embed.weight' has shape"),
    ("transcribe", lambda t: t.update({"out.bias": t["out.bias"].double()}), "tensor 'out.bias' has shape"),
    ("digits", lambda t: t.pop("out.weight"), "missing ['out.weight']"),
]


@pytest.mark.parametrize("kind, change, says", WEIGHTS, ids=[w[0] for w in WEIGHTS])
def test_weights_that_do_not_fit_the_config_are_named_in_one_line(base, tmp_path, kind, change, says):
    path = shutil.copytree(base(kind), tmp_path / "model")
    tensors = load_file(path / "model.safetensors")
    change(tensors)
    save_file(tensors, path / "model.safetensors")
    message = _load(kind, path)
    assert says in message and "model.safetensors" in message, message


def test_a_config_far_larger_than_its_weights_is_refused_before_anything_is_allocated(base, tmp_path):
    # 65,536 hidden units: 64 GiB of LSTM weights per member if they were made before the comparison
    path = shutil.copytree(base("forecast"), tmp_path / "model")
    config = json.loads((path / "config.json").read_text())
    config["config"]["hidden_size"] = config["net"]["hidden_size"] = 65536
    (path / "config.json").write_text(json.dumps(config))
    assert "the config needs shape (262144, 3)" in _load("forecast", path)


@pytest.mark.parametrize("kind", ["forecast", "classify", "translate", "transcribe", "digits"])
def test_the_valid_directory_of_each_kind_loads_and_works(base, kind):
    kinds.KINDS[kind].load_and_use(base(kind))
