"""Build the synthetic transliteration pairs shipped as `builtin:korean-romanization`.

    pip install korean-romanizer==0.28.0     # GPL-3; used here only, never by seqattn itself
    python scripts/korean_romanization_tsv.py src/seqattn/resources/kor.txt \
        src/seqattn/resources/korean_romanization.tsv

Every distinct all-Hangul word (punctuation stripped) of the Korean side of the bundled
Tatoeba corpus, with its romanization by korean-romanizer (Revised Romanization of Korean,
with the package's sound-change rules). The targets are the output of a rule system, not of
people: a model trained on them learns to imitate those rules.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from korean_romanizer.romanizer import Romanizer

HANGUL_WORD = re.compile(r"^[\uac00-\ud7a3]+$")
PUNCTUATION = re.compile(r"[^\uac00-\ud7a3\s]")


def words(corpus: str) -> list[str]:
    seen: dict[str, None] = {}
    for line in corpus.splitlines():
        korean = line.split("\t")[1]
        for word in PUNCTUATION.sub(" ", korean).split():
            if HANGUL_WORD.match(word):
                seen.setdefault(word)
    return sorted(seen)


def main() -> None:
    source, target = map(Path, sys.argv[1:3])
    rows = [f"{w}\t{Romanizer(w).romanize()}\n" for w in words(source.read_text(encoding="utf-8"))]
    target.write_text("".join(rows), encoding="utf-8")
    print(f"{target}: {len(rows):,} words")


if __name__ == "__main__":
    main()
