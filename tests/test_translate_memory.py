"""The retrieval-augmented translator (translation memory + copy mechanism): the copy network learns
to reproduce the neighbour's translation, training neighbours are never the pair itself, and a
trained model saves, loads and translates with its memory, placeholders kept; damaged memories
are refused in one line."""
import copy
import json

import pytest
import torch

from lstmkit.data.pairs import dedup_pairs, read_gettext, split_pairs
from lstmkit.errors import LstmkitError, ModelFileError
from lstmkit.tasks import translate
from lstmkit.tasks.translate import Translator
from lstmkit.tasks.translate.memory import TranslationMemory, augment
from lstmkit.tasks.translate.metrics import placeholder_rate
from lstmkit.tasks.translate.net import CopySeq2Seq, Seq2Seq, beam_search, greedy_search
from lstmkit.tasks.translate.text import BOS, EOS

TINY = translate.Config(embed_size=64, hidden_size=96, dropout=0.0, label_smoothing=0.0, vocab_size=300,
                        epochs=25, batch_size=8, learning_rate=5e-3, seed=0, max_words=4, test_fraction=0.2)


def copy_task(n, seed, vocab=40):
    """Input `source EOS memory EOS` with the target equal to the memory part: only copying solves it."""
    g = torch.Generator().manual_seed(seed)
    src, tm = torch.randint(20, vocab, (n, 3), generator=g), torch.randint(4, 20, (n, 4), generator=g)
    end = torch.full((n, 1), EOS)
    return torch.cat([src, end, tm, end], 1), torch.cat([torch.full((n, 1), BOS), tm, end], 1)


def test_copy_network_learns_to_copy_the_neighbours_translation():
    torch.manual_seed(0)
    net = CopySeq2Seq(40, 16, 32, dropout=0.0)
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    for step in range(80):
        x, tgt = copy_task(32, step)
        loss = net.loss(x, tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    x, tgt = copy_task(50, 1000)  # unseen sequences
    out, _ = greedy_search(net, x, torch.zeros(50, 0, dtype=torch.bool), torch.zeros(0, dtype=torch.long), 10)
    assert sum(o == t[1:-1].tolist() for o, t in zip(out, tgt)) >= 48


def test_copy_network_is_a_distribution_and_its_loss_is_the_mixtures_nll():
    torch.manual_seed(0)
    net = CopySeq2Seq(30, 8, 8, dropout=0.0).eval()
    x, tgt = copy_task(3, 0, vocab=30)
    logp, _ = net(x, tgt[:, :-1])
    assert torch.allclose(logp.exp().sum(-1), torch.ones(3, tgt.shape[1] - 1), atol=1e-5)
    want = -logp.gather(2, tgt[:, 1:, None]).mean()
    assert torch.allclose(net.loss(x, tgt), want, atol=1e-5)
    # the ids ride in memory's last channel; the search code's expansion per beam keeps them
    out, _ = beam_search(net, x[:1], torch.zeros(1, 0, dtype=torch.bool), torch.zeros(0, dtype=torch.long), 8, 1)
    greedy, _ = greedy_search(net, x[:1], torch.zeros(1, 0, dtype=torch.bool), torch.zeros(0, dtype=torch.long), 8)
    assert out == greedy[0]


def test_training_neighbours_are_never_the_pair_itself_nor_its_case_variant():
    pairs = [("Open file", "Ouvrir le fichier"), ("open  FILE", "ouvrir le fichier"), ("Open files", "Ouvrir les fichiers"),
             ("Close window", "Fermer la fenêtre"), ("Close windows", "Fermer les fenêtres"), ("Quit", "Quitter")]
    tm = TranslationMemory(pairs)
    nb = tm.neighbours()
    assert nb[0] == 2 and nb[1] == 2 and nb[3] == 4 and nb[4] == 3
    assert all(j != i for i, j in enumerate(nb))
    assert tm.nearest(["Open file", "Close the windows"]) == [0, 4]  # at prediction the pair itself is fine
    assert TranslationMemory([("a b", "x")]).neighbours() == [-1]
    assert augment([5, 6], [], 64) == [5, 6, EOS, EOS]


def test_one_line_errors():
    with pytest.raises(LstmkitError, match="memory: expected at least one"):
        TranslationMemory([])
    with pytest.raises(LstmkitError, match="memory: expected sources with some text"):
        TranslationMemory([(" ", "x")])
    with pytest.raises(LstmkitError, match="memory: expected the TranslationMemory"):
        Translator(Seq2Seq(10, 4, 4), None, translate.Config())


@pytest.fixture(scope="module")
def pool():
    train, test = split_pairs(dedup_pairs(read_gettext("fr"), max_words=4), 0.1, seed=0)
    return train[:120] + test[:30]


@pytest.fixture(scope="module")
def trained(pool):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return translate.train(pool, TINY, verbose=0)
    finally:
        torch.set_num_threads(threads)


def test_trained_with_memory_saves_loads_and_translates(trained, pool, tmp_path):
    assert isinstance(trained.model, CopySeq2Seq) and len(trained.memory) == len(translate.split(pool, TINY)[0])
    train_pairs, test_pairs = translate.split(pool, TINY)
    sources = [s for s, _ in test_pairs] + ["Cannot open %s: %d", "Hello {name}, %(count)s left"]
    hyps = trained.translate(sources)
    assert placeholder_rate(sources, hyps)[0] == 1.0
    assert trained.translate(sources, beam=2)[-2:] and placeholder_rate(sources[-2:], trained.translate(sources[-2:], beam=2))[0] == 1.0
    trained.save(tmp_path / "model")
    prep = json.loads((tmp_path / "model" / "preprocessing.json").read_text())
    assert prep["memory"]["sources"] == [s for s, _ in train_pairs]
    loaded = Translator.load(tmp_path)
    assert loaded.config.memory and loaded.translate(sources) == hyps


def test_memory_is_what_the_model_reads(trained):
    """The encoder input holds the nearest pair's translation, and the model learnt to use it: given
    its training sources with their own translations as neighbours it reproduces many more of them than
    with the translations rotated by one pair (same sources, same network, other memory)."""
    src, found = trained._with_neighbours(["Cannot open %s"], [trained._encode_source(0, "Cannot open %s")])[0]
    assert EOS in src and src[-1] == EOS and found == ["%s"]
    pairs = trained.memory.pairs
    sources, targets = zip(*pairs)
    own = sum(h == t for h, t in zip(trained.translate(list(sources)), targets))
    rotated = copy.copy(trained)
    rotated.memory = TranslationMemory(zip(sources, targets[1:] + targets[:1]))
    other = sum(h == t for h, t in zip(rotated.translate(list(sources)), targets))
    assert own >= 0.4 * len(pairs) and own >= other + 20


@pytest.mark.parametrize("edit, match", [
    (lambda p: p.pop("memory"), "missing field 'memory'"),
    (lambda p: p["memory"]["targets"].pop(), "memory.targets"),
    (lambda p: p["memory"].update(sources=[1]), r"memory.sources\[0\]"),
])
def test_damaged_memory_is_refused_in_one_line(trained, tmp_path, edit, match):
    trained.save(tmp_path / "model")
    path = tmp_path / "model" / "preprocessing.json"
    prep = json.loads(path.read_text())
    edit(prep)
    path.write_text(json.dumps(prep))
    with pytest.raises(ModelFileError, match=match) as e:
        Translator.load(tmp_path)
    assert "\n" not in str(e.value)
