"""Letter-level vocabularies: every character a token (`char`), or every space-separated
symbol a token (`symbols`, e.g. phonemes `N EY1 SH AH0 N`). No merges, no normalisation.

A `SymbolVocab` answers the same calls as a SentencePiece processor (`encode`, `decode`,
`id_to_piece`, `get_piece_size`), so `Subwords` can hold either on each side.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from seqattn.errors import SeqattnError

PAD_ID, UNK_ID, SOS_ID, EOS_ID = 0, 1, 2, 3
SPECIAL_PIECES = ("<pad>", "<unk>", "<s>", "</s>")  # the pieces SentencePiece shows for them
SPACE_PIECE = "▁"  # how a space is shown among a `char` vocabulary's pieces
UNK_TEXT = "⁇"  # what an unknown token decodes to
FORMAT = "seqattn-vocab-1"
Kind = Literal["char", "symbols"]


def split_text(text: str, kind: str) -> list[str]:
    """The tokens of `text`: its characters, or its whitespace-separated symbols."""
    return list(text) if kind == "char" else text.split()


class SymbolVocab:
    """A fixed list of characters or symbols after the four special tokens."""

    def __init__(self, kind: Kind, tokens: Sequence[str]):
        if kind not in ("char", "symbols"):
            raise ValueError(f"unknown vocabulary kind {kind!r}")
        self.kind, self.tokens = kind, list(tokens)
        self.ids = {t: i + len(SPECIAL_PIECES) for i, t in enumerate(self.tokens)}
        if len(self.ids) != len(self.tokens):
            raise ValueError("a vocabulary lists a token twice")
        self.unknown = 0  # tokens read as UNK by `encode` so far

    @classmethod
    def build(cls, texts: Iterable[str], kind: Kind, max_size: int) -> SymbolVocab:
        """The vocabulary of `texts`, most frequent first (ties in code-point order).

        `char` keeps the `max_size` - 4 most frequent characters (the rest read as UNK);
        `symbols` refuses more distinct symbols than that: they are probably words.
        """
        counts = Counter(tok for text in texts for tok in split_text(text, kind))
        room = max_size - len(SPECIAL_PIECES)
        if kind == "symbols" and len(counts) > room:
            raise SeqattnError(
                f"{len(counts):,} distinct symbols but data.subword.vocab_size allows {room:,} (plus 4 "
                "special tokens): is this side really space-separated symbols? Raise vocab_size, or "
                "use 'bpe' or 'char'")
        if not counts:
            raise SeqattnError(f"no {'characters' if kind == 'char' else 'symbols'} to build a "
                               "vocabulary from (empty training side)")
        ranked = sorted(counts, key=lambda t: (-counts[t], t))
        return cls(kind, ranked[:room])

    # ------------------------------------------------------------------ as a SentencePiece processor
    def get_piece_size(self) -> int:
        return len(SPECIAL_PIECES) + len(self.tokens)

    def encode(self, texts: Sequence[str] | str, **_: Any) -> list[list[int]] | list[int]:
        """Token ids of one text or of a list of texts; unknown tokens become UNK (counted)."""
        if isinstance(texts, str):
            return self._encode_one(texts)
        return [self._encode_one(t) for t in texts]

    def _encode_one(self, text: str) -> list[int]:
        ids = [self.ids.get(tok, UNK_ID) for tok in split_text(text, self.kind)]
        self.unknown += ids.count(UNK_ID)
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """The text of `ids` (PAD, SOS and EOS dropped; UNK as ⁇)."""
        out = [UNK_TEXT if i == UNK_ID else self.tokens[i - len(SPECIAL_PIECES)]
               for i in map(int, ids) if i == UNK_ID or i >= len(SPECIAL_PIECES)]
        return ("" if self.kind == "char" else " ").join(out)

    def id_to_piece(self, i: int) -> str:
        if i < len(SPECIAL_PIECES):
            return SPECIAL_PIECES[i]
        tok = self.tokens[i - len(SPECIAL_PIECES)]
        return SPACE_PIECE if self.kind == "char" and tok == " " else tok

    # ------------------------------------------------------------------ stored form
    def to_bytes(self) -> bytes:
        return json.dumps({"format": FORMAT, "kind": self.kind, "tokens": self.tokens},
                          ensure_ascii=False, indent=0).encode("utf-8")

    @staticmethod
    def is_ours(blob: bytes) -> bool:
        return blob.lstrip().startswith(b"{") and FORMAT.encode() in blob[:200]

    @classmethod
    def from_bytes(cls, blob: bytes, where: str = "vocabulary") -> SymbolVocab:
        """Read `to_bytes` output; SeqattnError naming `where` if it is damaged."""
        try:
            tree = json.loads(blob.decode("utf-8"))
            if tree.get("format") != FORMAT or not isinstance(tree.get("tokens"), list) \
                    or not all(isinstance(t, str) and t for t in tree["tokens"]) or not tree["tokens"]:
                raise ValueError("not a seqattn vocabulary")
            return cls(tree["kind"], tree["tokens"])
        except (UnicodeDecodeError, ValueError, AttributeError, KeyError, TypeError, RecursionError) as exc:
            raise SeqattnError(f"{where}: damaged vocabulary ({exc}; {len(blob):,} bytes); restore it "
                               "from a backup or train the run again") from None
