"""The translation memory of a retrieval-augmented translator (neural fuzzy repair, Bulte & Tezcan
2019; Xu et al. 2020): the training pairs, and for any source the pair whose source is the most
similar — by the same character 2-4-gram TF-IDF cosine as `metrics.retrieval_baseline`.

The network reads `source EOS neighbour-target EOS` (`augment`), so it mostly copies the
neighbour's translation and edits where the sources differ. In training each pair's neighbour is
another pair: never itself, nor a pair whose source is the same up to case and spacing (the split
keeps those together, so a test source never finds one).
"""
import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from ...errors import LstmkitError
from .text import EOS

CHUNK = 2000  # query rows per sparse product: a (CHUNK, N) block of cosines at a time
# training neighbours score on the n-grams at most this share of sources contain: a product over the
# common ones ("e ", " t") is nearly dense and costs ~10x more; the neighbour found has 91% of the best
# cosine on average (2,000 en-fr training sources)
RARE_DF = 0.01


def group_key(source: str) -> str:
    """The source up to case and spacing (the key `data.pairs.split_pairs` groups by)."""
    return " ".join(source.lower().split())


class TranslationMemory:
    """Training pairs with a TF-IDF index over their sources.

    Args:
        pairs: (source, target) strings, as written (placeholders not yet protected).

    Example:
        >>> tm = TranslationMemory([("Open file", "Ouvrir le fichier"), ("Close window", "Fermer la fenêtre")])
        >>> tm.nearest(["Open the file"])
        [0]
    """

    def __init__(self, pairs):
        self.pairs = [(str(s), str(t)) for s, t in pairs]
        if not self.pairs:
            raise LstmkitError("memory: expected at least one (source, target) pair, got none")
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True,
                                          dtype=np.float32)
        try:
            self.index = self.vectorizer.fit_transform([s for s, _ in self.pairs])  # (N, F), rows L2-normed
        except ValueError as e:  # no character n-gram at all ("empty vocabulary")
            raise LstmkitError(f"memory: expected sources with some text to index, got none ({e})") from None

    def __len__(self):
        return len(self.pairs)

    def nearest(self, sources) -> list[int]:
        """For each source, the index of the memory pair with the most similar source (exact cosine,
        as `metrics.retrieval_baseline`)."""
        queries = self.vectorizer.transform(list(sources))
        best = []
        for start in range(0, queries.shape[0], CHUNK):
            sims = (queries[start:start + CHUNK] @ self.index.T).toarray()  # (chunk, N)
            best.extend(sims.argmax(1).tolist())
        return best

    def neighbours(self) -> list[int]:
        """For each memory pair, another pair to retrieve in training: the most similar source by
        the rare n-grams (`RARE_DF`) whose group key differs. -1 when there is none."""
        n = len(self.pairs)
        keys = [group_key(s) for s, _ in self.pairs]
        members = {}
        for i, k in enumerate(keys):
            members.setdefault(k, []).append(i)
        group = np.empty(n, dtype=np.int64)
        for g, rows in enumerate(members.values()):
            group[rows] = g
        pairs = np.array([(i, j) for rows in members.values() for i in rows for j in rows])  # itself, its variants
        excluded = sp.csr_matrix((np.full(len(pairs), 2.0, np.float32), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        df = np.diff(self.index.tocsc().indptr)
        rare = (self.index @ sp.diags((df <= max(RARE_DF * n, 2)).astype(np.float32))).tocsr()
        rare.eliminate_zeros()
        best = np.empty(n, dtype=np.int64)
        for start in range(0, n, CHUNK):
            stop = min(start + CHUNK, n)
            # sparse throughout: cosines are at most 1, so the excluded entries end below 0
            sims = (self.index[start:stop] @ rare.T).tocsr() - excluded[start:stop]
            best[start:stop] = np.asarray(sims.argmax(axis=1)).ravel()
        best[group[best] == group] = -1  # a row with nothing but excluded entries (one group holds all)
        return best.tolist()

    def to_json(self) -> dict:
        """The pairs as two lists of strings, for preprocessing.json."""
        return {"sources": [s for s, _ in self.pairs], "targets": [t for _, t in self.pairs]}

    @classmethod
    def from_json(cls, data: dict) -> "TranslationMemory":
        return cls(zip(data["sources"], data["targets"]))


def augment(source_ids, neighbour_ids, max_tokens):
    """The encoder's input: `source EOS neighbour-target EOS`, each side cut to `max_tokens`.

    Example:
        >>> augment([5, 6], [7], 64)
        [5, 6, 3, 7, 3]
    """
    return list(source_ids[:max_tokens]) + [EOS] + list(neighbour_ids[:max_tokens]) + [EOS]
