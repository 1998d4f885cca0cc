"""Scoring translations: BLEU and chrF (sacrebleu), placeholder survival, and the two baselines
every model is reported beside — copying the source, and retrieving the translation of the most
similar training source (character n-gram TF-IDF, cosine similarity)."""
import sacrebleu
from sklearn.feature_extraction.text import TfidfVectorizer

from .text import placeholders, placeholders_kept


def score(hypotheses, references, target_lang="fr") -> dict:
    """Corpus BLEU and chrF.

    Args:
        hypotheses, references: lists of strings, one reference per hypothesis.
        target_lang: "zh..." selects sacrebleu's Chinese tokenizer for BLEU, else its default 13a.

    Returns:
        {"bleu": float, "chrf": float}, both 0-100.

    Example:
        >>> score(["le chat noir dort ici"], ["le chat noir dort ici"])["bleu"]
        100.0
    """
    tokenize = "zh" if target_lang.lower().startswith("zh") else "13a"
    bleu = sacrebleu.metrics.BLEU(tokenize=tokenize).corpus_score(hypotheses, [references])
    chrf = sacrebleu.metrics.CHRF().corpus_score(hypotheses, [references])
    return {"bleu": round(bleu.score, 2), "chrf": round(chrf.score, 2)}


def placeholder_rate(sources, hypotheses) -> tuple[float, int]:
    """(share of sources with placeholders whose translation keeps them all, how many had any)."""
    pairs = [(s, h) for s, h in zip(sources, hypotheses) if placeholders(s)]
    if not pairs:
        return 1.0, 0
    return sum(placeholders_kept(s, h) for s, h in pairs) / len(pairs), len(pairs)


def retrieval_baseline(train_pairs, sources) -> list[str]:
    """For each source, the target of the most similar training source (char 2-4-grams, TF-IDF)."""
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
    train_x = vectorizer.fit_transform([s for s, _ in train_pairs])
    sims = vectorizer.transform(sources) @ train_x.T  # (N_test, N_train), rows are cosines
    best = sims.argmax(axis=1).A1
    return [train_pairs[j][1] for j in best]


def evaluate(translator, train_pairs, test_pairs, target_lang="fr", beam=1) -> dict:
    """Score the model and both baselines on the same test pairs.

    Returns:
        {"lstm": {"bleu", "chrf", "placeholders_kept", "placeholder_sources"},
         "copy": {"bleu", "chrf"}, "retrieval": {"bleu", "chrf"}}.
    """
    sources = [s for s, _ in test_pairs]
    references = [t for _, t in test_pairs]
    hypotheses = translator.translate(sources, beam=beam)
    kept, n = placeholder_rate(sources, hypotheses)
    return {
        "lstm": {**score(hypotheses, references, target_lang), "placeholders_kept": round(kept, 4),
                 "placeholder_sources": n},
        "copy": score(sources, references, target_lang),
        "retrieval": score(retrieval_baseline(train_pairs, sources), references, target_lang),
    }
