"""Turn the CMU Pronouncing Dictionary (`cmudict.dict` as published by CMU) into the TSV that
seqattn ships as `builtin:cmudict`: `word<TAB>phonemes`, one line per pronunciation.

    python scripts/cmudict_tsv.py path/to/cmudict.dict src/seqattn/resources/cmudict.tsv.gz

Alternative pronunciations (`word(2)`) become further lines of the same word; trailing
comments (`# place, german`) are dropped; stress digits are kept. The output is gzip with a
fixed timestamp, so the same input gives the same bytes.
"""

from __future__ import annotations

import gzip
import re
import sys
from pathlib import Path

VARIANT = re.compile(r"\(\d+\)$")


def convert(text: str) -> str:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        word, _, phones = line.partition(" ")
        if not phones.strip():
            raise SystemExit(f"line {number}: no phonemes: {line!r}")
        rows.append(f"{VARIANT.sub('', word)}\t{' '.join(phones.split())}\n")
    return "".join(rows)


def main() -> None:
    source, target = map(Path, sys.argv[1:3])
    tsv = convert(source.read_text(encoding="utf-8"))
    with target.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(tsv.encode("utf-8"))
    print(f"{target}: {tsv.count(chr(10)):,} pronunciations")


if __name__ == "__main__":
    main()
