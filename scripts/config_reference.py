"""Write docs/CONFIG.md, the configuration reference, from the pydantic schema (src/seqattn/config.py).

    python scripts/config_reference.py           # rewrite docs/CONFIG.md
    python scripts/config_reference.py --check   # exit 1 when docs/CONFIG.md is stale

Edit a key's meaning in config.py (its `Field(description=...)`), never in docs/CONFIG.md;
tests/test_config_doc.py fails when the two differ.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seqattn.config_doc import render

TARGET = Path(__file__).resolve().parents[1] / "docs" / "CONFIG.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the file is up to date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.is_file() else ""
        if current != text:
            print(f"{TARGET} is stale: run python scripts/config_reference.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
