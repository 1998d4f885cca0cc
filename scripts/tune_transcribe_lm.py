"""Choose the speech recogniser's language-model settings on validation data, never on the test set.

The Asterisk prompts are split as `lstmkit transcribe train --asterisk` splits them (seed 0); the
held-out part is not touched here. From the training part, `--splits` validation sets (15% each,
seeds 1, 2, ...) are held out in turn; for each, the default acoustic model is trained on the rest,
a character LM is fit on the rest's transcripts, and every (order, weight, bonus) on the grid is
scored by CER on the validation recordings with beam 16. The table (mean over the splits, best first)
is written to docs/transcribe-lm-tuning.md. About 6 minutes per split on one core.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/tune_transcribe_lm.py [--splits 2]
"""
import argparse
import itertools
import time
from pathlib import Path

import numpy as np

from lstmkit.data.speech_datasets import load_asterisk
from lstmkit.tasks.transcribe import Config as TranscribeConfig
from lstmkit.tasks.transcribe import score as evaluate
from lstmkit.tasks.transcribe import split
from lstmkit.tasks.transcribe import train_on as train
from lstmkit.tasks.transcribe.charlm import CharNgramLM
from lstmkit.tasks.transcribe.pipeline import featurize_items

ORDERS = (6, 8, 10)
WEIGHTS = (0.6, 0.8, 1.0, 1.2)
BONUSES = (1.0, 1.5, 2.0, 2.5)
BEAM = 16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=2)
    parser.add_argument("--out", default="docs/transcribe-lm-tuning.md")
    args = parser.parse_args()
    train_items, _ = split(load_asterisk(), 0.15, seed=0)  # the test part is left alone
    scores, plain = {}, []
    for seed in range(1, args.splits + 1):
        fit_items, val_items = split(train_items, 0.15, seed=seed)
        start = time.time()
        model = train(fit_items, TranscribeConfig(lm_order=0), verbose=0)
        print(f"split {seed}: trained on {len(fit_items)} in {time.time() - start:.0f}s", flush=True)
        log_probs = model.log_probs(featurize_items(val_items, model.config))

        def cer(**kw):
            return 100 * evaluate(model, val_items, BEAM, log_probs=log_probs, **kw)["all"]["cer"]

        plain.append(cer(lm_weight=0.0))
        for order in ORDERS:
            model.lm = CharNgramLM(model.alphabet.chars, order).fit([u.text for u in fit_items])
            for weight, bonus in itertools.product(WEIGHTS, BONUSES):
                model.config.lm_bonus = bonus
                scores.setdefault((order, weight, bonus), []).append(cer(lm_weight=weight))
        print(f"split {seed}: no LM {plain[-1]:.2f}, best {min(v[-1] for v in scores.values()):.2f}",
              flush=True)
    rows = sorted(scores.items(), key=lambda kv: np.mean(kv[1]))
    head = " | ".join(f"split {s}" for s in range(1, args.splits + 1))
    lines = [f"# Speech: language-model settings chosen on validation splits (beam {BEAM})", "",
             "Written by `scripts/tune_transcribe_lm.py`. CER (%) on recordings held out of the "
             "training part, never the test set; the acoustic model is the default recipe.", "",
             f"| order | weight | bonus | mean | {head} |", "|---|---|---|---|" + "---|" * args.splits,
             f"| no LM | | | {np.mean(plain):.2f} | " + " | ".join(f"{v:.2f}" for v in plain) + " |"]
    lines += [f"| {o} | {w} | {b} | {np.mean(v):.2f} | " + " | ".join(f"{x:.2f}" for x in v) + " |"
              for (o, w, b), v in rows]
    out = Path(args.out)
    tmp = out.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(out)
    print(f"wrote {out}; best: order {rows[0][0][0]}, weight {rows[0][0][1]}, bonus {rows[0][0][2]}")


if __name__ == "__main__":
    main()
