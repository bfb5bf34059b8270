"""Config YAML read safely: files and `key=value` overrides, with the safe loader, bounded
nesting and bounded alias expansion.

A config is a few hundred values at most five levels deep; a document that nests deeper or
whose anchors and aliases expand past `MAX_NODES` values (a "billion laughs") is refused
before any Python object is built from it or any walk of it begins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from seqattn.errors import SeqattnError

MAX_DEPTH = 16  # a config is at most five levels deep; more is a mistake or an attack


def _depth(value: Any) -> int:
    """How deeply lists and mappings nest in `value` (iteratively: no recursion limit)."""
    deepest, todo = 0, [(value, 0)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level + 1)
            if level + 1 > MAX_DEPTH:
                break
            todo.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def check_depth(value: Any, where: str) -> None:
    if _depth(value) > MAX_DEPTH:
        raise SeqattnError(f"{where}: lists or mappings nested more than {MAX_DEPTH} levels deep "
                           "(a config needs at most five)")


MAX_NODES = 100_000  # values (scalars, lists, mappings) with aliases expanded; a config holds a few hundred


class AliasBomb(Exception):
    """A YAML document whose aliases expand it too far; the message says how."""


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a node graph that holds more than MAX_NODES nodes once every alias is expanded, or
    that contains itself. Iterative, with one count per distinct node: linear in the document."""
    sizes: dict[int, int] = {}  # id(node) -> expanded size, capped at MAX_NODES + 1
    open_nodes: set[int] = set()  # entered and not finished: the path from the root
    todo: list[tuple[yaml.Node, bool]] = [(root, False)]
    while todo:
        node, finished = todo.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            sizes[key] = min(MAX_NODES + 1, 1 + sum(sizes[id(child)] for child in _children(node)))
            if sizes[key] > MAX_NODES:
                raise AliasBomb(f"anchors and aliases (&name, *name) expand to more than {MAX_NODES:,} "
                                 "values (a 'billion laughs' document?); a config needs a few hundred")
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise AliasBomb("an alias (*name) refers to a list or mapping that contains it")
        open_nodes.add(key)
        todo.append((node, True))
        todo.extend((child, False) for child in _children(node) if id(child) not in sizes)


class _BoundedLoader(yaml.SafeLoader):
    """yaml.SafeLoader that checks the composed node graph with `_check_expansion` before any
    Python object is built from it."""

    def get_single_node(self) -> yaml.Node | None:
        node = super().get_single_node()
        if node is not None:
            _check_expansion(node)
        return node


def load(text: str) -> Any:
    """`yaml.safe_load`, refusing alias bombs and self-containing documents (`AliasBomb`)."""
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def parse_overrides(items: list[str]) -> list[tuple[str, Any]]:
    """Parse `key.sub=value` strings; values are read as YAML scalars (`5`, `true`, `1e-3`)."""
    parsed = []
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key or any(not p.isidentifier() for p in key.split(".")):
            raise SeqattnError(f"bad override '{item}': expected dotted.key=value, e.g. train.max_steps=100")
        try:
            value = load(raw) if raw != "" else None
        except yaml.YAMLError:
            value = raw
        except AliasBomb as exc:
            raise SeqattnError(f"override '{key}': {exc}") from None
        except RecursionError:  # the parser itself recurses on deep nesting
            raise SeqattnError(f"override '{key}': value nested too deeply") from None
        check_depth(value, f"override '{key}'")
        if isinstance(value, str):  # YAML 1.1 reads '1e-3' as text
            try:
                value = float(value)
            except ValueError:
                pass
        parsed.append((key, value))
    return parsed


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping with the safe loader; clear errors for missing or malformed files."""
    p = Path(path)
    if not p.is_file():
        raise SeqattnError(f"{p}: config file not found")
    try:
        tree = load(p.read_text(encoding="utf-8"))
    except AliasBomb as exc:
        raise SeqattnError(f"{p}: {exc}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        raise SeqattnError(f"{p}:{line} not valid YAML") from exc
    except RecursionError:  # the parser itself recurses on deep nesting
        raise SeqattnError(f"{p}: lists or mappings nested too deeply to read") from None
    check_depth(tree, str(p))
    if not isinstance(tree, dict):
        raise SeqattnError(f"{p}: expected a mapping of sections (data, model, train, decode)")
    return tree
