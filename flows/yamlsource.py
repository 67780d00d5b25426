"""YAML read with line numbers, so every flow error can name its file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class LineDict(dict[str, Any]):
    line: int = 0
    key_lines: dict[str, int]


class LineList(list[Any]):
    line: int = 0
    item_lines: list[int]


class YamlSyntaxError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def _convert(node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    if isinstance(node, yaml.MappingNode):
        out = LineDict()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        for key_node, value_node in node.value:
            key = str(loader.construct_object(key_node))
            out[key] = _convert(value_node, loader)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        items = LineList(_convert(child, loader) for child in node.value)
        items.line = node.start_mark.line + 1
        items.item_lines = [child.start_mark.line + 1 for child in node.value]
        return items
    return loader.construct_object(node)


def load_yaml(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _convert(node, loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlSyntaxError((mark.line + 1) if mark else 1, f"YAML syntax: {exc.problem or exc}") from None
    finally:
        loader.dispose()


def line_of(data: Any, key: str | None = None) -> int:
    if isinstance(data, LineDict) and key is not None and key in data.key_lines:
        return data.key_lines[key]
    return int(getattr(data, "line", 0))
