"""Parallel sentence pairs: gettext catalogs on the machine, TSV files, deduplication and a split
that keeps every source sentence on one side.

The demo data are the human translations of software messages that every Debian-like system ships
as compiled gettext catalogs (`/usr/share/locale/<lang>/LC_MESSAGES/*.mo`). They are read with the
standard library's `gettext.GNUTranslations`; its `_catalog` maps msgid -> msgstr for every entry.
"""
import gettext
import random
import struct
from collections import Counter
from pathlib import Path

from ..errors import DataError
from .textfile import listed, read_text, warn_skipped

LOCALE_DIR = Path("/usr/share/locale")


def gettext_languages(locale_dir=LOCALE_DIR) -> list[str]:
    """Languages that have at least one compiled catalog under `locale_dir`, sorted."""
    locale_dir = Path(locale_dir)
    if not locale_dir.is_dir():
        return []
    return sorted(p.name for p in locale_dir.iterdir() if any(p.glob("LC_MESSAGES/*.mo")))


def read_gettext(lang: str, locale_dir=None) -> list[tuple[str, str]]:
    """English -> `lang` pairs from every catalog of that language on the machine.

    Skipped: the header (empty msgid), plural forms (tuple keys), untranslated entries and
    multi-line messages (they are usually help texts whose layout a sentence model cannot keep).
    A message context (`ctx\\x04msgid`) is dropped. Catalogs that cannot be parsed are skipped,
    named in one `DataWarning`.

    Args:
        lang: a locale directory name such as "fr", "es" or "zh_CN".
        locale_dir: where the locales live (default `LOCALE_DIR`, /usr/share/locale).

    Returns:
        (english, translation) pairs in file order, duplicates included.

    Example:
        >>> pairs = read_gettext("fr")  # doctest: +SKIP
        >>> pairs[0]  # doctest: +SKIP
        ('Permission denied', 'Permission refusée')
    """
    locale_dir = Path(locale_dir or LOCALE_DIR)
    files = sorted(p for p in locale_dir.glob(f"{lang}/LC_MESSAGES/*.mo") if p.is_file())
    if not files:
        found = ", ".join(gettext_languages(locale_dir)) or "none"
        raise DataError(f"--gettext: no catalogs for language {lang!r} under {locale_dir} "
                        f"(languages found: {found})")
    pairs, damaged = [], []
    for file in files:
        try:
            with open(file, "rb") as fh:
                catalog = gettext.GNUTranslations(fh)._catalog
        except (OSError, UnicodeDecodeError, LookupError, ValueError, IndexError, struct.error) as e:
            damaged.append(f"{file.name} ({' '.join(str(e).split())[:60]})")
            continue  # a damaged or oddly encoded catalog costs a few pairs, not the run
        for msgid, msgstr in catalog.items():
            if not isinstance(msgid, str):
                continue  # plural entries are keyed (msgid, n)
            source = msgid.split("\x04")[-1].strip()
            target = msgstr.strip()
            if source and target and "\n" not in source and "\n" not in target:
                pairs.append((source, target))
    unreadable = f"catalogs that cannot be read: {listed(damaged, 5)}"
    if not pairs:
        raise DataError(f"--gettext: the {len(files)} catalog(s) for {lang!r} under {locale_dir} hold no "
                        f"usable single-line translation{f' ({unreadable})' if damaged else ''}")
    if damaged:
        warn_skipped(f"--gettext {lang}", len(damaged), len(files), [unreadable])
    return pairs


def read_tsv(path) -> list[tuple[str, str]]:
    """Pairs from a UTF-8 file of `source<TAB>target` lines; blank lines are ignored, and lines with
    an empty side (an untranslated entry) are skipped, listed in one `DataWarning`.

    Raises:
        DataError: the file is missing, empty or not UTF-8 text, or some lines lack a tab (their
            line numbers are listed).

    Example:
        >>> read_tsv("pairs.tsv")  # doctest: +SKIP
        [('Open file', 'Ouvrir le fichier'), ...]
    """
    path = Path(path)
    try:
        text = read_text(path, "--pairs")
    except DataError as e:
        raise DataError(f"{e} (expected 'source<TAB>target' lines)") from None
    pairs, bad, empty = [], [], []
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        source, tab, target = line.partition("\t")
        if not tab:
            bad.append(number)
        elif not source.strip() or not target.strip():
            empty.append(number)
        else:
            pairs.append((source.strip(), target.strip()))
    if bad:
        raise DataError(f"--pairs: {path}: expected 'source<TAB>target' on every line; "
                        f"line(s) {listed(bad)} have no tab")
    if not pairs:
        raise DataError(f"--pairs: {path} holds no pair with both sides (expected 'source<TAB>target' lines)")
    if empty:
        warn_skipped(f"--pairs {path}", len(empty), len(empty) + len(pairs),
                     [f"an empty source or target on line(s) {listed(empty)}"])
    return pairs


def dedup_pairs(pairs, max_words: int | None = None) -> list[tuple[str, str]]:
    """One pair per source sentence: its most frequent translation (first seen on ties).

    Args:
        pairs: (source, target) pairs.
        max_words: keep only sources of at most this many whitespace-separated words.

    Returns:
        Pairs sorted by source, so the result does not depend on the order files were read in.
    """
    counts = Counter(pairs)
    best = {}
    for source, target in pairs:
        if max_words is not None and len(source.split()) > max_words:
            continue
        if source not in best or counts[(source, target)] > counts[(source, best[source])]:
            best[source] = target
    return sorted(best.items())


def split_pairs(pairs, test_fraction=0.1, seed=0):
    """Split so that no source sentence is on both sides, even up to case and spacing.

    Args:
        pairs: (source, target) pairs, e.g. from `dedup_pairs`.
        test_fraction: share of source groups held out (default 0.1).
        seed: shuffles the groups.

    Returns:
        (train, test) lists of pairs.

    Example:
        >>> train, test = split_pairs([("a", "x"), ("A", "y"), ("b", "z")], 0.5, seed=1)
        >>> sorted({s.lower() for s, _ in train} & {s.lower() for s, _ in test})
        []
    """
    if not 0 < test_fraction < 1:
        raise DataError(f"test_fraction: expected a number in (0, 1), got {test_fraction!r}")
    groups = {}
    for source, target in pairs:
        groups.setdefault(" ".join(source.lower().split()), []).append((source, target))
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    n_test = max(1, round(len(keys) * test_fraction)) if len(keys) > 1 else 0
    test = [p for k in keys[:n_test] for p in groups[k]]
    train = [p for k in keys[n_test:] for p in groups[k]]
    return train, test
