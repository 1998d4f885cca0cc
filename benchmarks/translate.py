"""Translation: held-out BLEU against training time, next to retrieval's BLEU on the same test sentences.

Usage:
    .venv/bin/python benchmarks/translate.py [--pairs fr,zh_CN] [--minutes 2,5,10,20] [--test-limit 1500]
                                             [--threads 1] [--quick]
    .venv/bin/python benchmarks/translate.py --report     # table + plot from the JSON files written so far
    .venv/bin/python benchmarks/translate.py --step       # one training step: new loss vs old, CPU time

Each point trains `translate.train` from scratch with `time_limit` = the minutes (the learning rate
decays over that time, as `lstmkit translate train --time-limit` does) and scores greedy translations
of the held-out split (`translate.split`, seed 0; `--test-limit` takes a seeded sample of it, the same
sentences for every contender), with today's `translate.Config()` defaults. Every run appends one JSON line to
benchmarks/results/translate.<pair>.jsonl with the wall and CPU seconds and the load average around
it: the machine is shared, so wall time says little about the work done. `--report` writes
benchmarks/results/translate.md and translate.png. `--quick`: 300 training pairs, 20 s, for a smoke
test. Never asserts a score.
"""
import argparse
import dataclasses
import json
import os
import random
import time
from pathlib import Path

import torch

from lstmkit.data.pairs import read_gettext
from lstmkit.tasks import translate
from lstmkit.tasks.translate import metrics
from lstmkit.tasks.translate import pipeline

RESULTS = Path(__file__).parent / "results"


# the contenders: today's defaults, and the defaults before the translation memory
CONFIGS = {"default": {}, "old": {"memory": False}}


def config(lang, minutes, name="default", overrides=None):
    """A Config with a time budget; epochs high enough that the time ends training."""
    return translate.Config(target_lang=lang, time_limit=60 * minutes, epochs=1000, **CONFIGS[name],
                            **(overrides or {}))


def one_point(pairs, lang, minutes, test_limit, name="default", overrides=None, validation=False):
    """Train and score a configuration for `minutes`; returns the JSON record. `validation`: train
    on the training split less a held-out part of it and score on that part (the test split unused)."""
    cfg = config(lang, minutes, name, overrides)
    train_pairs, test_pairs = translate.split(pairs, cfg)
    if validation:
        pairs = train_pairs
        train_pairs, test_pairs = translate.split(pairs, cfg)
    if test_limit and len(test_pairs) > test_limit:
        test_pairs = random.Random(0).sample(test_pairs, test_limit)
    load0, cpu0, wall0 = os.getloadavg()[0], time.process_time(), time.perf_counter()
    tr = translate.train(pairs, cfg, verbose=0)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    scores = metrics.evaluate(tr, train_pairs, test_pairs, lang)
    label = name + "".join(f" {k}={v}" for k, v in (overrides or {}).items())
    return {"pair": f"en-{lang}", "config": label, "split": "validation" if validation else "test", "minutes": minutes,
            "clock": "cpu" if pipeline.CLOCK is time.process_time else "wall", "train_wall_s": round(wall, 1),
            "train_cpu_s": round(cpu, 1), "load_before": load0, "load_after": os.getloadavg()[0],
            "train_pairs": len(train_pairs), "test_pairs": len(test_pairs),
            "lstm": scores["lstm"], "retrieval": scores["retrieval"], "copy": scores["copy"],
            "settings": dataclasses.asdict(cfg), "threads": torch.get_num_threads()}


def run(langs, minutes, test_limit, quick, name="default", overrides=None, validation=False):
    for lang in langs:
        pairs = read_gettext(lang)
        if quick:
            pairs = pairs[:300]
        kind = ".quick" if quick else ".validation" if validation else ""
        out = RESULTS / f"translate.en-{lang}{kind}.jsonl"
        for m in minutes:
            rec = one_point(pairs, lang, m, test_limit, name, overrides, validation)
            with open(out, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec) + "\n")
            print(f"en-{lang} {rec['config']} {m} min: BLEU {rec['lstm']['bleu']} (retrieval "
                  f"{rec['retrieval']['bleu']}), {rec['train_cpu_s']} CPU-s of training, "
                  f"load {rec['load_before']:.1f}", flush=True)


def step_ratio(lang="fr", n_pairs=8000, batches=12):
    """CPU seconds of one training step (forward, backward, Adam) with the loss on real target tokens
    (`Seq2Seq.loss`) against the same step with logits at every padded position (the earlier
    `cross_entropy(model(src, tgt_in), ignore_index=PAD)`), alternated over the same batches."""
    import torch.nn.functional as F
    from lstmkit.tasks.translate import pipeline as P
    from lstmkit.tasks.translate.text import PAD
    cfg = translate.Config(target_lang=lang)
    protected = [P.protect_pair(s, t) for s, t in translate.split(read_gettext(lang), cfg)[0][:n_pairs]]
    tok = P.SubwordTokenizer.train([x for p in protected for x in p], cfg.vocab_size, cfg.tokenizer)
    examples = P.encode_pairs(protected, tok, cfg.max_tokens)
    model = P._build_model(tok.vocab_size, cfg).train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)

    def padded(src, tgt):
        logits, _ = model(src, tgt[:, :-1])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1), ignore_index=PAD,
                               label_smoothing=cfg.label_smoothing)

    losses = {"real tokens (new)": lambda s, t: model.loss(s, t, cfg.label_smoothing), "padded (old)": padded}
    times = {k: [] for k in losses}
    for k, (src, tgt) in enumerate(P._batches(examples, cfg.batch_size, random.Random(0))):
        if k == batches:
            break
        for name, fn in losses.items():
            t = time.thread_time()
            loss = fn(src, tgt)
            opt.zero_grad()
            loss.backward()
            opt.step()
            times[name].append(time.thread_time() - t)
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    line = (f"Training step, en-{lang}, default Config, {batches} batches of {cfg.batch_size}, CPU seconds "
            f"(median): loss on real tokens {med['real tokens (new)']:.3f}, logits at every padded position "
            f"{med['padded (old)']:.3f}: **{med['padded (old)'] / med['real tokens (new)']:.2f}x** "
            f"(load {os.getloadavg()[0]:.1f}).")
    (RESULTS / "translate.step.txt").write_text(line + "\n", encoding="utf-8")
    print(line)


def report(note=""):
    """translate.md (the table) and translate.png (BLEU against minutes) from the JSON lines."""
    recs = [json.loads(line) for p in sorted(RESULTS.glob("translate.en-*.jsonl")) if ".quick" not in p.name and ".validation" not in p.name
            for line in p.read_text().splitlines() if line.strip()]
    rows = ["| pair | config | budget | training: wall s / CPU s | load | BLEU | chrF | retrieval BLEU / chrF |",
            "|---|---|---|---|---|---|---|---|"]
    for r in sorted(recs, key=lambda r: (r["pair"], r["config"], r["minutes"])):
        budget = f"{60 * r['minutes']:.0f} CPU-s" if r.get("clock") == "cpu" else f"{r['minutes']} min"
        rows.append(f"| {r['pair']} | {r['config']} | {budget} | {r['train_wall_s']:.0f} / "
                    f"{r['train_cpu_s']:.0f} | {r['load_before']:.1f}-{r['load_after']:.1f} | "
                    f"**{r['lstm']['bleu']}** | {r['lstm']['chrf']} | {r['retrieval']['bleu']} / "
                    f"{r['retrieval']['chrf']} |")
    step = RESULTS / "translate.step.txt"
    text = ("# Translation: BLEU against training time\n\nWritten by `benchmarks/translate.py --report` "
            "from translate.en-*.jsonl (each record holds its settings). Held-out greedy BLEU (sacrebleu; `zh` "
            "tokenizer for Chinese) on a seeded sample of the test split, the same sentences for the "
            "model and for retrieval. The machine (2 cores) was shared with other jobs: the load "
            "column is the 1-minute load average before and after each run, and CPU seconds are the "
            f"work the run actually got. Wall seconds include the tokenizer's training. {note}\n\n"
            + "\n".join(rows) + "\n"
            + (f"\n{step.read_text()}" if step.exists() else ""))
    (RESULTS / "translate.md").write_text(text, encoding="utf-8")
    _plot(recs)
    print(text)


def _plot(recs):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    pairs = sorted({r["pair"] for r in recs})
    fig, axes = plt.subplots(1, len(pairs), figsize=(5 * len(pairs), 4), squeeze=False)
    for ax, pair in zip(axes[0], pairs):
        mine = [r for r in recs if r["pair"] == pair]
        for name in sorted({r["config"] for r in mine}):
            pts = sorted((r["train_cpu_s"], r["lstm"]["bleu"]) for r in mine if r["config"] == name)
            ax.plot(*zip(*pts), marker="o", label=f"lstm ({name} Config)")
        ax.axhline(max(r["retrieval"]["bleu"] for r in mine), color="gray", ls="--", label="retrieval")
        ax.set(title=pair, xlabel="CPU seconds of training the run got (shared 2-core machine)", ylabel="BLEU")
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "translate.png", dpi=100)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", default="fr,zh_CN")
    p.add_argument("--minutes", default="2,5,10,20")
    p.add_argument("--test-limit", type=int, default=1500)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="what --minutes counts: wall time (as --time-limit), or CPU seconds of the process "
                        "(the work a run gets on a shared machine, whatever its load)")
    p.add_argument("--config", default="default", choices=sorted(CONFIGS))
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a Config field (numbers parsed as JSON), e.g. --set batch_size=32")
    p.add_argument("--validation", action="store_true",
                   help="score on a held-out part of the training split, for choosing defaults")
    p.add_argument("--report", action="store_true")
    p.add_argument("--note", default="", help="with --report: a sentence on how the runs were made")
    p.add_argument("--step", action="store_true", help="time one training step, new loss vs old (step_ratio)")
    a = p.parse_args()
    if a.report:
        report(a.note)
    elif a.step:
        torch.set_num_threads(a.threads)
        step_ratio()
    else:
        torch.set_num_threads(a.threads)
        minutes = [1 / 3] if a.quick else [float(m) for m in a.minutes.split(",")]
        if a.clock == "cpu":
            pipeline.CLOCK = time.process_time
        overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in a.set)}
        run(a.pairs.split(","), minutes, a.test_limit, a.quick, a.config, overrides, a.validation)
