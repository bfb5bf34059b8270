"""Tasks whose true alignment is known by construction, and that alignment.

  copy      output symbol i comes from source symbol i
  reverse   output symbol i comes from source symbol n-1-i
  romanise  each Latin letter comes from the Hangul syllable it spells: the syllable is split
            into its initial, vowel and final (Unicode's arithmetic, exact) and each part gets
            its Revised Romanization letters without any sound-change rule. A pair is kept only
            when these letters, concatenated, are the target: then every target letter belongs
            to exactly one source syllable.

The bundled romanisation targets do apply sound changes across syllables (a final consonant
carried over to a following vowel, assimilation), so some pairs are not syllable by syllable
and are left out; `romanisation_pairs` says how many were kept.
"""

from __future__ import annotations

from collections.abc import Sequence

HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3
INITIALS = ["g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t",
            "p", "h"]
VOWELS = ["a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we",
          "wi", "yu", "eu", "ui", "i"]
FINALS = ["", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p", "p",
          "t", "t", "ng", "t", "t", "k", "t", "p", "t"]  # a final as it sounds at the end of a word


def synthetic_alignment(task: str, length: int) -> list[int]:
    """The source position of each output symbol of a copy or reverse pair of `length` symbols."""
    if task == "copy":
        return list(range(length))
    if task == "reverse":
        return list(range(length - 1, -1, -1))
    raise ValueError(f"synthetic_alignment: task 'copy' or 'reverse', not {task!r}")


def romanise_syllable(syllable: str) -> str:
    """One precomposed Hangul syllable in Revised Romanization, on its own (no sound changes)."""
    code = ord(syllable) - HANGUL_FIRST if len(syllable) == 1 else -1
    if not 0 <= code <= HANGUL_LAST - HANGUL_FIRST:
        raise ValueError(f"romanise_syllable: one Hangul syllable, not {syllable!r}")
    return INITIALS[code // 588] + VOWELS[code % 588 // 28] + FINALS[code % 28]


def romanisation_alignment(word: str, romanised: str) -> list[int] | None:
    """The source syllable of each letter of `romanised`, or None when the word's syllables,
    romanised one by one and concatenated, are not `romanised` (or the word is not all Hangul)."""
    if not word or not all(HANGUL_FIRST <= ord(c) <= HANGUL_LAST for c in word):
        return None
    parts = [romanise_syllable(c) for c in word]
    if "".join(parts) != romanised:
        return None
    return [i for i, part in enumerate(parts) for _ in part]


def romanisation_pairs(sources: Sequence[str], targets: Sequence[str]
                       ) -> list[tuple[str, str, list[int]]]:
    """The pairs that are romanised syllable by syllable, each with its alignment."""
    kept = []
    for word, romanised in zip(sources, targets):
        truth = romanisation_alignment(word, romanised)
        if truth is not None:
            kept.append((word, romanised, truth))
    return kept
