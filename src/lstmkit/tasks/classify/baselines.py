"""Baselines for text classification, scored like the LSTM: TF-IDF + logistic regression (word
n-grams for English, character n-grams for Chinese) and the majority class (scikit-learn)."""
import numpy as np

from ...data.text import tokenize_en
from ...data.text_datasets import TextData


def tfidf_logreg(train: TextData, val: TextData, lang: str):
    """TF-IDF + logistic regression, its n-grams and C chosen on the validation split.

    English uses word uni- or bigrams (the LSTM's tokenizer), Chinese character 1-2 or 1-3 grams.

    Returns:
        A fitted scikit-learn Pipeline (predict takes raw texts).

    Example:
        >>> model = tfidf_logreg(train, val, "en")      # doctest: +SKIP
        >>> model.predict(["a fine, funny film"])       # doctest: +SKIP
        array(['positive'], dtype='<U8')
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    if lang == "zh":
        grams = [dict(analyzer="char", ngram_range=(1, n)) for n in (2, 3)]
    else:
        grams = [dict(tokenizer=tokenize_en, lowercase=False, token_pattern=None, ngram_range=(1, n))
                 for n in (1, 2)]
    best, best_acc = None, -1.0
    for options in grams:
        vectorizer = TfidfVectorizer(sublinear_tf=True, **options)
        features, val_features = vectorizer.fit_transform(train.texts), vectorizer.transform(val.texts)
        for C in (1.0, 3.0, 10.0):
            logreg = LogisticRegression(C=C, max_iter=2000).fit(features, train.labels)
            acc = float(np.mean(logreg.predict(val_features) == np.asarray(val.labels)))
            if acc > best_acc:
                best, best_acc = make_pipeline(vectorizer, logreg), acc
    return best


def majority(train: TextData):
    """The most frequent training label, as a fitted scikit-learn DummyClassifier."""
    from sklearn.dummy import DummyClassifier

    return DummyClassifier(strategy="most_frequent").fit(np.zeros((len(train), 1)), train.labels)


def scores(y_true, y_pred, labels) -> dict:
    """Accuracy, macro-F1 and the confusion matrix (rows: true label, columns: predicted, in `labels` order).

    Example:
        >>> scores(["a", "b", "b"], ["a", "b", "a"], ["a", "b"])["confusion_matrix"]
        [[1, 0], [1, 1]]
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
            "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist()}
