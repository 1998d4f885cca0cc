"""CTC decoding: from per-frame label log-probabilities to a label sequence.

Connectionist Temporal Classification (Graves et al. 2006) scores every alignment of a label
sequence to the frames, with a `blank` label between labels; a path is read by merging repeats and
then dropping blanks ("aa-ab" -> "aab"). Greedy decoding reads the best path; prefix beam search
(Hannun et al. 2014) keeps the `beam` best label prefixes, each scored by the total probability of all
paths that read as it, split into paths ending in a blank and paths ending in the prefix's last label.
A language model joins by shallow fusion: `lm(prefix)` gives an extra log-score for every label
appended to `prefix` and one for ending there, added to the paths' scores (see `charlm`).

Example:
    >>> import numpy as np
    >>> lp = np.log(np.array([[.1, .8, .1], [.8, .1, .1], [.1, .8, .1], [.1, .1, .8]]))
    >>> greedy_decode(lp), beam_decode(lp, beam=4)
    ([1, 1, 2], [1, 1, 2])
"""
import numpy as np

NEG_INF = -np.inf


def greedy_decode(log_probs, blank: int = 0) -> list[int]:
    """Best-path decoding: the most likely label per frame, repeats merged, blanks dropped.

    Args:
        log_probs: (T, V) log-probabilities (numpy array or tensor).
        blank: index of the blank label.

    Returns:
        the label indices, blanks excluded.
    """
    best = np.asarray(log_probs).argmax(axis=1)  # (T,)
    keep = np.ones(len(best), bool)
    keep[1:] = best[1:] != best[:-1]
    return [int(k) for k in best[keep] if k != blank]


def beam_decode(log_probs, beam: int = 8, blank: int = 0, prune: float = -10.0, lm=None) -> list[int]:
    """Prefix beam search: the label sequence with the highest total probability among `beam` kept.

    Args:
        log_probs: (T, V) log-probabilities.
        beam: prefixes kept after each frame (1 is close to greedy decoding).
        blank: index of the blank label.
        prune: labels whose log-probability at a frame is below this are not tried there (speed);
            the frame's best label is always tried.
        lm: None, or a function prefix (tuple of labels) -> (scores (V,), end score): log-scores
            added when label k is appended to the prefix, and when the utterance ends on it.

    Returns:
        the label indices of the best prefix.
    """
    if beam < 1:
        raise ValueError(f"beam: expected an int >= 1, got {beam!r}")
    lp = np.asarray(log_probs, dtype=np.float64)
    memo = {}  # prefix -> lm(prefix) within this call
    beams = {(): (0.0, NEG_INF)}  # prefix -> (log score of paths ending in blank, ... in its last label)
    for frame in lp:
        labels = np.flatnonzero(frame >= min(prune, frame.max()))
        nxt = {}
        for prefix, (pb, pnb) in beams.items():
            total = np.logaddexp(pb, pnb)
            extra = 0.0 if lm is None else _lm(lm, memo, prefix)[0]
            for k in labels:
                p = frame[k]
                if k == blank:
                    _add(nxt, prefix, total + p, NEG_INF)
                    continue
                last = prefix[-1] if prefix else None
                gain = p if lm is None else p + extra[k]
                # a repeated label needs a blank in between to count twice
                _add(nxt, prefix + (int(k),), NEG_INF, (pb if k == last else total) + gain)
                if k == last:
                    _add(nxt, prefix, NEG_INF, pnb + p)
        beams = dict(sorted(nxt.items(), key=lambda kv: -np.logaddexp(*kv[1]))[:beam])

    def final(item):
        prefix, (pb, pnb) = item
        return np.logaddexp(pb, pnb) + (0.0 if lm is None else _lm(lm, memo, prefix)[1])

    return list(max(beams.items(), key=final)[0])


def _lm(lm, memo, prefix):
    out = memo.get(prefix)
    if out is None:
        out = memo[prefix] = lm(prefix)
    return out


def _add(beams, prefix, pb, pnb):
    old_b, old_nb = beams.get(prefix, (NEG_INF, NEG_INF))
    beams[prefix] = (np.logaddexp(old_b, pb), np.logaddexp(old_nb, pnb))
