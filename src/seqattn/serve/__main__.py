"""`python -m seqattn.serve RUN_DIR ...`: the same as `seqattn serve RUN_DIR ...`."""

from __future__ import annotations

import argparse
import sys

from seqattn.errors import SeqattnError
from seqattn.serve.args import add_serve_arguments, run_from_args


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m seqattn.serve",
                                description="Serve trained runs over HTTP, with a web page at /.")
    add_serve_arguments(p)
    try:
        return run_from_args(p.parse_args(argv))
    except SeqattnError as exc:
        print(f"seqattn: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
