"""The `seqattn` program's entry point (the console script and `python -m seqattn`).

Its first instruction decides how signals stop the process (`seqattn.stopping`), before the
command line is parsed or anything heavy is imported; then it runs `seqattn.cli.main`.
"""

from __future__ import annotations

from seqattn import stopping


def main(argv: list[str] | None = None) -> int:
    stopping.install()
    from seqattn.cli import main as run_command

    return run_command(argv)
