"""The character n-gram language model (Kneser-Ney) and its shallow fusion into CTC beam search."""
import json

import numpy as np
import pytest

from lstmkit.tasks.transcribe.charlm import CharNgramLM
from lstmkit.tasks.transcribe.ctc import beam_decode

TEXTS = ["press one", "press two to hear the message", "one moment please", "goodbye"]


def test_kneser_ney_by_hand():
    # alphabet " ab" + end; text "ab": bigrams ^a, ab, b$; unigram continuation counts a, b, $ once
    lm = CharNgramLM(" ab", order=2).fit(["ab"])
    unigram_b = 0.25 * 0.75 + 0.25 / 3  # uniform * D*T/N + (1 - D)/N
    assert np.exp(lm.log_probs("a")[2]) == pytest.approx(0.25 + 0.75 * unigram_b)
    assert np.exp(lm.log_probs(" ")[0]) == pytest.approx(0.25 * 0.75)  # unseen context: the unigram


@pytest.mark.parametrize("order", [1, 3, 6])
def test_every_context_gives_a_distribution(order):
    lm = CharNgramLM(" 'abcdefghijklmnopqrstuvwxyz", order=order).fit(TEXTS)
    for context in ["", "pre", "press o", "zzzz", "the message"]:
        p = np.exp(lm.log_probs(context))
        assert p.shape == (29,)  # 28 characters + the end and (p > 0).all()
        assert p.sum() == pytest.approx(1.0)


def test_longer_contexts_know_more():
    short, long = (CharNgramLM(" 'abcdefghijklmnopqrstuvwxyz", order=n).fit(TEXTS) for n in (2, 6))
    assert long.score("press one") > short.score("press one")
    assert long.score("press one") > long.score("prses oen") + 10


def test_round_trip_through_json():
    lm = CharNgramLM(" 'abcdefghijklmnopqrstuvwxyz", order=5).fit(TEXTS)
    again = CharNgramLM.from_dict(json.loads(json.dumps(lm.to_dict())))
    for context in ["", "press t", "good"]:
        np.testing.assert_array_equal(again.log_probs(context), lm.log_probs(context))


def test_bad_arguments():
    with pytest.raises(ValueError, match="order"):
        CharNgramLM("ab", order=0)
    with pytest.raises(ValueError, match="discount"):
        CharNgramLM("ab", discount=1.5)
    with pytest.raises(ValueError, match="'c'"):
        CharNgramLM("ab").fit(["abc"])
    with pytest.raises(RuntimeError, match="fit"):
        CharNgramLM("ab").log_probs("a")


def _random_log_probs(rng, t=8, v=4):
    logits = rng.normal(0, 1.5, (t, v))
    return logits - np.log(np.exp(logits).sum(1, keepdims=True))


def test_a_silent_language_model_changes_nothing():
    rng = np.random.default_rng(1)
    silent = lambda prefix: (np.zeros(4), 0.0)  # noqa: E731
    for _ in range(20):
        lp = _random_log_probs(rng)
        assert beam_decode(lp, beam=8, lm=silent) == beam_decode(lp, beam=8)


def test_the_language_model_settles_what_the_sound_leaves_open():
    # one frame says "a" (0.5) or "b" (0.4); a language model fit on texts of b's tips it to "b"
    lp = np.log(np.array([[0.1, 0.5, 0.4]]))
    assert beam_decode(lp, beam=4) == [1]
    lm = CharNgramLM("ab", order=2).fit(["b", "bb", "b"])

    def fused(prefix):
        scores = lm.log_probs("".join("ab"[k - 1] for k in prefix))
        return np.concatenate([[0.0], scores[:-1]]), scores[-1]

    assert beam_decode(lp, beam=4, lm=fused) == [2]


def test_the_cache_stays_bounded(monkeypatch):
    lm = CharNgramLM(" 'abcdefghijklmnopqrstuvwxyz", order=4).fit(TEXTS)
    first = [lm.log_probs(c).copy() for c in ("pre", "one", "mes", "goo", "pre")]
    monkeypatch.setattr("lstmkit.tasks.transcribe.charlm.CACHE_SIZE", 2)
    lm._cache.clear()
    again = [lm.log_probs(c) for c in ("pre", "one", "mes", "goo", "pre")]
    assert len(lm._cache) <= 2
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
