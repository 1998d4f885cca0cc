"""What a panel model directory keeps beyond the network (preprocessing.json): the settings that
followed from the data, the series ids, each series' scalers and static features, and the static
vocabularies; checked on load so a damaged file is refused with `ModelFileError`."""
from ...data import timeseries as ts
from ...errors import ModelFileError
from ..schema import (MAX_MEMBERS, MAX_LAYERS, MAX_UNITS, MAX_VOCAB, RATE, choice, fields, integer, items, mapping,
                      number, optional, text)
from .config import MAX_COLUMNS, MAX_STEPS, SCALER

MAX_SERIES = 1 << 20
_NET = {"n_features": integer(1, 3 * MAX_COLUMNS + 4), "n_known": integer(0, MAX_COLUMNS + 4),
        "lookback": integer(1, MAX_STEPS), "horizon": integer(1, MAX_STEPS), "n_quantiles": integer(1, 99),
        "cardinalities": items(integer(1, MAX_VOCAB), max_len=MAX_COLUMNS), "n_numeric": integer(0, MAX_COLUMNS),
        "hidden_size": integer(1, MAX_UNITS), "num_layers": integer(1, MAX_LAYERS), "dropout": RATE,
        "emb_dims": items(integer(1, MAX_UNITS), max_len=MAX_COLUMNS)}
# what a saved PanelForecaster holds besides its Config: config.json's "net" and "ensemble", preprocessing.json
META = fields({"net": fields(_NET, required=tuple(_NET)), "ensemble": integer(1, MAX_MEMBERS)},
              required=("net", "ensemble"))
_PREPARED = {"targets": items(text(), min_len=1, max_len=1), "time_col": optional(text()), "freq": optional(text(64)),
             "season": integer(1, MAX_STEPS), "base": choice("last", "seasonal", "none", "decomp"),
             "step": integer(1, MAX_STEPS), "n_known": integer(0, MAX_COLUMNS + 4),
             "ids": items(text(4096), min_len=1, max_len=MAX_SERIES, distinct=True),
             "scalers": mapping(items(SCALER, min_len=3, max_len=3), max_len=MAX_SERIES),
             "static_rows": mapping(items(items(number(), max_len=MAX_COLUMNS), min_len=2, max_len=2),
                                    max_len=MAX_SERIES),
             "vocab": mapping(items(text(1 << 16)), max_len=MAX_COLUMNS),
             "numeric": mapping(items(number(), min_len=2, max_len=2), max_len=MAX_COLUMNS),
             "cardinalities": items(integer(1, MAX_VOCAB), max_len=MAX_COLUMNS),
             "blends": mapping(number(0, 1), max_len=MAX_SERIES)}  # newer: absent means 1 for every series
PREPROCESSING = fields(_PREPARED, required=tuple(k for k in _PREPARED if k != "blends"))


def save_panel(f) -> tuple:
    """(meta, state_dict, preprocessing) of a trained PanelForecaster `f`."""
    prep = {"targets": f.targets, "time_col": f.time_col, "freq": f.freq, "season": f.season, "base": f.base,
            "step": f.step, "n_known": f.n_known, "ids": f.ids,
            "scalers": {sid: [s.to_dict() for s in f.scalers[sid]] for sid in f.ids},
            "static_rows": {sid: list(f.static_rows[sid]) for sid in f.ids},
            "vocab": f.vocab, "numeric": {k: list(v) for k, v in f.numeric.items()},
            "cardinalities": f.cardinalities, "blends": {sid: f.blends.get(sid, 1.0) for sid in f.ids}}
    return {"net": f.net[0].config, "ensemble": len(f.net)}, f.net.state_dict(), prep


def restore_panel(f, meta, prep) -> None:
    """Set the preprocessing of PanelForecaster `f` from `prep`, after checking it.

    Raises:
        ModelFileError: the ids, scalers or static features are missing or inconsistent.
    """
    ids = prep.get("ids")
    if not isinstance(ids, list) or not ids or len(set(ids)) != len(ids) or not all(isinstance(i, str) for i in ids):
        raise ModelFileError("model: preprocessing.json 'ids' must be a non-empty list of distinct series ids")
    scalers, rows = prep.get("scalers"), prep.get("static_rows")
    if not isinstance(scalers, dict) or set(scalers) != set(ids) or not isinstance(rows, dict) or set(rows) != set(ids):
        raise ModelFileError("model: preprocessing.json must hold 'scalers' and 'static_rows' for every id in 'ids'")
    cards = [int(k) for k in prep["cardinalities"]]
    if cards != list(meta["net"]["cardinalities"]):
        raise ModelFileError("model: preprocessing.json 'cardinalities' do not match the network in config.json")
    f.targets, f.n_targets, f.freq, f.time_col = prep["targets"], 1, prep["freq"], prep["time_col"]
    f.season, f.base, f.step, f.n_known = prep["season"], prep["base"], prep["step"], prep["n_known"]
    f.ids, f.vocab, f.cardinalities = ids, prep["vocab"], cards
    f.numeric = {k: (float(m), float(s)) for k, (m, s) in prep["numeric"].items()}
    f.scalers, f.static_rows, f.decomp = {}, {}, {}
    f.blends = {sid: float(prep.get("blends", {}).get(sid, 1.0)) for sid in ids}
    vocab_sizes = [len(v) for v in f.vocab.values()]
    for sid in ids:
        parts = [ts.Scaler.from_dict(d) for d in scalers[sid]]
        codes, numeric = rows[sid]
        if len(parts) != 3 or len(parts[0].mean) != 1 or len(codes) != len(vocab_sizes) \
                or len(numeric) != len(f.numeric) or any(not 0 <= k < n for k, n in zip(codes, vocab_sizes)):
            raise ModelFileError(f"model: preprocessing.json holds inconsistent scalers or static features for "
                                 f"series {sid!r}")
        f.scalers[sid] = tuple(parts)
        f.static_rows[sid] = ([int(k) for k in codes], [float(v) for v in numeric])
