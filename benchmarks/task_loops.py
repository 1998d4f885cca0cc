"""What training through Model.fit costs translate and transcribe: one epoch of each pipeline's
training through `Model.fit` (as `translate.train` and `transcribe.train` run it) next to the
hand-written step loop they used before (the same network, starting weights, batches, optimizer,
schedule and clipping), measured in one run, alternating the contenders; median of the repeats.

Usage: .venv/bin/python benchmarks/task_loops.py [--repeats 3] [--threads 1]
Writes benchmarks/results/task_loops.md. Never asserts a time.
"""
import argparse
import copy
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F

from lstmkit.data.batching import EpochBatches
from lstmkit.data.pairs import read_gettext
from lstmkit.data.speech_datasets import load_asterisk
from lstmkit.models import GeneratorStates, optimizers
from lstmkit.models.schedules import OneCycle
from lstmkit.saving import atomic_write
from lstmkit.tasks import transcribe, translate
from lstmkit.tasks.transcribe import pipeline as tp
from lstmkit.tasks.translate import pipeline as lp
from lstmkit.tasks.translate.text import PAD, SubwordTokenizer


def translate_case():
    """(network, batches of one epoch, collate, config) for en->fr pairs."""
    config = translate.Config(embed_size=64, hidden_size=64, vocab_size=500, epochs=1, batch_size=32, max_words=8)
    pairs, _ = translate.split(read_gettext("fr")[:4000], config)
    protected = [lp.protect_pair(s, t) for s, t in pairs]
    tokenizer = SubwordTokenizer.train([x for p in protected for x in p], config.vocab_size, config.tokenizer)
    examples = lp.encode_pairs(protected, tokenizer, config.max_tokens)
    return lp._build_model(tokenizer.vocab_size, config), lp._plan(examples, config)[0], \
        partial(lp._collate, examples), config


def translate_by_hand(net, plan, collate, config):
    """The loop translate.train ran before: Adam, LambdaLR per step, clip_grad_norm_."""
    opt = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1 - 0.9 * min(k / len(plan), 1.0))
    net.train()
    for chunk in plan:
        (src, tgt_in), tgt_out = collate(chunk)
        logits, _ = net(src, tgt_in)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1), ignore_index=PAD,
                               label_smoothing=config.label_smoothing)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), config.clip_norm)
        opt.step()
        sched.step()
        loss.item()


def translate_by_fit(net, plan, collate, config):
    model = lp._TeacherForcing(net, config.label_smoothing)
    model.compile(optimizers.Adam(lambda k: config.learning_rate * (1 - 0.9 * min(k / len(plan), 1.0)),
                                  epsilon=1e-8, global_clipnorm=config.clip_norm))
    model.fit(EpochBatches(lambda epoch: plan, collate), epochs=1, verbose=0)


def transcribe_case():
    """(network, batches of one epoch, collate, config) for 120 Asterisk prompts."""
    config = transcribe.Config(epochs=1, hidden_size=64, num_layers=1, lm_order=0)
    items = load_asterisk()[:120]
    targets = [tp.Alphabet(tp.ENGLISH).encode(u.text) for u in items] * len(config.speeds)
    feats = [torch.from_numpy(f) for f in tp.featurize_items(items, config, config.speeds)]
    net = transcribe.Transcriber(config, tp.Alphabet(tp.ENGLISH)).model
    gen = torch.Generator().manual_seed(0)
    return net, tp._plan(feats, len(items), config)[0], partial(tp._collate, feats, targets, config, gen), config


def transcribe_by_hand(net, plan, collate, config):
    """The loop transcribe.train ran before: AdamW, OneCycleLR per step, clip_grad_norm_."""
    opt = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, config.learning_rate, total_steps=len(plan), pct_start=0.15)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    net.train()
    for idx in plan:
        (x, lengths), (labels, label_lengths) = collate(idx)
        log_probs, steps = net(x, lengths)
        loss = ctc(log_probs.transpose(0, 1), labels, steps, label_lengths)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        sched.step()
        loss.item()


def transcribe_by_fit(net, plan, collate, config):
    model = tp._CTC(net)
    model.compile(optimizers.AdamW(OneCycle(config.learning_rate, len(plan), pct_start=0.15), weight_decay=1e-2,
                                   epsilon=1e-8, global_clipnorm=5.0))
    model.fit(EpochBatches(lambda epoch: plan, collate), epochs=1, verbose=0,
              callbacks=[GeneratorStates({"spec_augment": collate.args[3]})])


def measure(case, contenders, repeats):
    """{name: [seconds per epoch, ...]}, contenders alternating, after one warm-up each."""
    net, plan, collate, config = case()
    times = {name: [] for name in contenders}
    for r in range(repeats + 1):
        for name, run in contenders.items():
            start = time.perf_counter()
            run(copy.deepcopy(net), plan, collate, config)
            if r:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}, len(plan)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lines = ["# Model.fit vs the hand-written loops translate and transcribe used before", "",
             f"One epoch each, median of {args.repeats} repeats after a warm-up, contenders alternating; torch "
             f"{torch.__version__}, {args.threads} thread(s). The machine is shared with other work: absolute "
             "times move from run to run, the ratio from one run holds better.", "",
             f"Command: `python benchmarks/task_loops.py {' '.join(sys.argv[1:])}`", "",
             "| pipeline | batches | hand loop s/epoch | Model.fit s/epoch | fit / hand |", "|---|---:|---:|---:|---:|"]
    for name, case, hand, fit in (("translate (en->fr, 64 units)", translate_case, translate_by_hand,
                                   translate_by_fit),
                                  ("transcribe (120 prompts, 64 units)", transcribe_case, transcribe_by_hand,
                                   transcribe_by_fit)):
        med, batches = measure(case, {"hand": hand, "fit": fit}, args.repeats)
        lines.append(f"| {name} | {batches} | {med['hand']:.2f} | {med['fit']:.2f} | {med['fit'] / med['hand']:.2f}x |")
        print(lines[-1], flush=True)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    lines += ["", f"Load at the end of the run: `{load}`", ""]
    atomic_write(Path(__file__).parent / "results" / "task_loops.md", "\n".join(lines))


if __name__ == "__main__":
    main()
