"""docs/CONFIG.md is what the generator writes from the schema today, and documents every key."""

from seqattn.config_doc import COMMAND, render
from tests.conftest import REPO

DOC = REPO / "docs" / "CONFIG.md"


def test_config_reference_is_up_to_date():
    current = DOC.read_text(encoding="utf-8") if DOC.is_file() else ""
    assert current == render(), (f"docs/CONFIG.md differs from the schema in src/seqattn/config.py: "
                                 f"run `{COMMAND}`")


def test_every_key_has_a_meaning():
    empty = [line.split("|")[1].strip() for line in render().splitlines()
             if line.startswith("| `") and line.rstrip().endswith("|  |")]
    assert not empty, f"keys without a description in config.py: {empty}"
