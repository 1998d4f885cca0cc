"""The long-range benchmark's bookkeeping: one JSON line per run, resume, cut runs, the table's cells."""
import time

import torch

from lstmkit import long_range, long_range_report

GRID = [("adding", 20, ("LSTM", "SimpleRNN (torch.nn.RNN)"), 2)]


def test_append_resume_and_report(tmp_path):
    part = tmp_path / "long_range.p.jsonl"
    first = long_range.run(GRID, seeds=(0, 1), log=lambda *_: None, test_sequences=16,
                           on_run=lambda r: long_range.append_run(r, part), meta="m")
    assert len(first) == 4 and len(part.read_text().splitlines()) == 4
    with open(part, "a") as f:
        f.write('{"task": "add')  # a torn line, as a killed job leaves it
    loaded = long_range.load_runs([part])
    assert [r.key() for r in loaded] == [r.key() for r in first] and loaded[0].curve == first[0].curve
    # resuming with one more seed trains only the new seed's runs
    again = long_range.run(GRID, seeds=(0, 1, 2), log=lambda *_: None, test_sequences=16,
                           done=long_range.done_keys(loaded))
    assert [(r.model, r.seed) for r in again] == [("LSTM", 2), ("SimpleRNN (torch.nn.RNN)", 2)]
    text = long_range.write_report(tmp_path)
    assert "| LSTM | 0/2 · — · " in text and "| *paper's LSTM (1997)* | — |" in text
    assert (tmp_path / "long_range.md").read_text() == text and (tmp_path / "long_range.png").exists()


def test_deadline_cuts_a_run_and_the_cut_run_is_redone(tmp_path):
    runs = long_range.run(GRID, log=lambda *_: None, test_sequences=16, deadline=time.monotonic() - 1)
    assert runs == []  # nothing starts after the deadline
    cut = long_range.train_one("adding", 20, "LSTM", 0, 10_000, deadline=time.monotonic() - 1)
    assert cut.cut and cut.seen == 0 and long_range.done_keys([cut]) == set()


def test_cells_count_success_median_and_cut_apart():
    def run(solved_at, cut=False, acc=1.0):
        return long_range.Run("adding", 100, "LSTM", 0, 1000, solved_at=solved_at, cut=cut, test_accuracy=acc)
    cell = long_range_report._cell([run(300), run(100), run(None, acc=0.5), run(None, cut=True, acc=0.5)])
    assert cell == "2/3 (+1 cut) · 200 · 0.750"  # the median over the solved runs; the mean over all


def test_chrono_init_spreads_the_forget_bias_up_to_the_lag():
    net = long_range.Net("LSTM chrono init", 2, 1, 16, T=100)
    b, H = net.rnn.bias_ih_l0.detach(), 16
    assert ((b[H:2 * H] >= 0) & (b[H:2 * H] <= torch.log(torch.tensor(99.0)))).all()
    assert torch.equal(b[:H], -b[H:2 * H]) and (b[2 * H:] == 0).all() and (net.rnn.bias_hh_l0 == 0).all()
    plain = long_range.Net("LSTM", 2, 1, 16).rnn.bias_ih_l0.detach()
    assert (plain[H:2 * H] == 1).all()  # the Keras-style default the chrono variant replaces


def test_cosine_lr_decays_from_lr_to_a_hundredth_over_the_budget_and_keeps_the_chrono_init():
    lrs = [long_range.learning_rate(s, 50, 1e-3, True) for s in range(51)]
    assert lrs[0] == 1e-3 and abs(lrs[-1] - 1e-5) < 1e-12 and abs(lrs[25] - 0.505e-3) < 1e-12
    assert all(a > b for a, b in zip(lrs, lrs[1:]))
    assert long_range.learning_rate(60, 50, 1e-3, True) == lrs[-1]  # past the budget it stays at the floor
    assert {long_range.learning_rate(s, 50, 1e-3, False) for s in range(60)} == {1e-3}
    b = long_range.Net("LSTM chrono init + cosine lr", 2, 1, 16, T=100).rnn.bias_ih_l0.detach()
    assert (b[16:32] != 1).any() and torch.equal(b[:16], -b[16:32])
    decayed = long_range.train_one("adding", 10, "LSTM chrono init + cosine lr", 0, budget=64, batch=32)
    constant = long_range.train_one("adding", 10, "LSTM chrono init", 0, budget=64, batch=32)
    same = all(torch.equal(p, q) for p, q in zip(decayed.net.parameters(), constant.net.parameters()))
    assert not same  # the second step's smaller rate changes the weights
