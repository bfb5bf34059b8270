"""Recipes: the documented configs shipped inside the package (`seqattn/recipes/NAME.yaml`; the
repository's `configs/` is a link to that folder). Where a verb takes a CONFIG, a recipe's name
(`seqattn train cmudict_g2p`) stands for its file, so an installed package trains without a
checkout."""

from __future__ import annotations

from pathlib import Path

from seqattn.errors import SeqattnError

RECIPES = Path(__file__).resolve().parent / "recipes"
DEFAULT_RECIPE = "tatoeba_koen"  # what `seqattn train` with no CONFIG trains


def recipe_names() -> list[str]:
    """The names of the shipped recipes, sorted."""
    return sorted(p.stem for p in RECIPES.glob("*.yaml"))


def recipe_path(name: str) -> Path:
    """The file of the recipe `name`; SeqattnError listing the recipes when there is none."""
    names = recipe_names()
    if name not in names:
        raise SeqattnError(f"{name}: no such config file, and no recipe of that name "
                           f"(recipes: {', '.join(names)})")
    return RECIPES / f"{name}.yaml"


def config_path(arg: str | Path) -> Path:
    """The config file a CONFIG argument names: a path as given when it is a file or looks like one
    (a folder in it, or a .yaml or .yml suffix), else the recipe of that name."""
    path = Path(arg)
    if path.is_file() or len(path.parts) != 1 or path.suffix.lower() in (".yaml", ".yml"):
        return path
    return recipe_path(str(arg))
