"""Read a YAML document into position-carrying nodes, refusing what is unsafe.

PyYAML's node graph keeps every scalar's start mark, which is what lets each
error name its line and column.  Before composing, the event stream is
scanned once: aliases are refused outright (a "billion laughs" document then
costs one pass over its text, never an expansion) and so are documents that
are not exactly one.  Duplicate mapping keys are found while walking the
nodes (PyYAML itself keeps the last one silently).
"""

from __future__ import annotations

import yaml

from .problems import Problem
from .quickdata import dataclass

try:  # libyaml's C parser when python3-yaml was built with it (Debian's is)
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pure-Python fallback
    _Loader = yaml.SafeLoader

MAX_BYTES = 1 << 20  # a jail file is a page of text; refuse megabytes of it

STR = "tag:yaml.org,2002:str"
BOOL = "tag:yaml.org,2002:bool"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
NULL = "tag:yaml.org,2002:null"


@dataclass(frozen=True)
class Source:
    """A file's name as the user wrote it, for messages."""

    name: str

    def at(self, node: yaml.Node | None, key: str, message: str) -> Problem:
        if node is None:
            return Problem(self.name, 1, 1, key, message)
        mark = node.start_mark
        return Problem(self.name, mark.line + 1, mark.column + 1, key, message)


def _mark_problem(src: Source, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    text = exc.problem or exc.context or "invalid YAML"
    return Problem(src.name, line, col, "", f"invalid YAML: {text}")



def _position(mark: object) -> tuple[int, int]:
    """1-based line and column of a YAML mark (events always carry one; 1:1 if not)."""
    line, column = getattr(mark, "line", 0), getattr(mark, "column", 0)
    return line + 1, column + 1

def compose(text: str, src: Source) -> tuple[yaml.Node | None, list[Problem]]:
    """Return the single document's root node, or the problems that stop it."""
    if len(text) > MAX_BYTES:
        return None, [Problem(src.name, 1, 1, "", f"file is larger than {MAX_BYTES} bytes")]
    if "\0" in text:
        line = text.count("\n", 0, text.index("\0")) + 1
        return None, [Problem(src.name, line, 1, "", "file contains a NUL byte")]
    documents = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent):
                line, col = _position(event.start_mark)
                return None, [Problem(src.name, line, col, "",
                                      f"YAML alias *{event.anchor} is not allowed in a jail file "
                                      "(anchors and aliases are refused, never expanded)")]
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    line, col = _position(event.start_mark)
                    return None, [Problem(src.name, line, col, "",
                                          "a jail file holds exactly one YAML document")]
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        return None, [_mark_problem(src, exc)]
    except yaml.YAMLError as exc:
        return None, [Problem(src.name, 1, 1, "", f"invalid YAML: {exc}")]
    if node is None:
        return None, [Problem(src.name, 1, 1, "", "file is empty; a jail needs at least name and exec")]
    return node, []


def mapping_items(node: yaml.MappingNode, src: Source, key: str,
                  problems: list[Problem]) -> list[tuple[str, yaml.Node, yaml.Node]]:
    """The (name, key node, value node) pairs of a mapping; reports duplicate and non-string keys."""
    seen: dict[str, yaml.Node] = {}
    items: list[tuple[str, yaml.Node, yaml.Node]] = []
    for knode, vnode in node.value:
        if not isinstance(knode, yaml.ScalarNode) or knode.tag != STR:
            shown = knode.value if isinstance(knode, yaml.ScalarNode) else "a collection"
            problems.append(src.at(knode, key, f"key {shown!r} must be a plain string"))
            continue
        name = knode.value
        if name in seen:
            first = seen[name].start_mark.line + 1
            problems.append(src.at(knode, _join(key, name), f"duplicate key (first set on line {first})"))
            continue
        seen[name] = knode
        items.append((name, knode, vnode))
    return items


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def plain_value(node: yaml.Node) -> object:
    """A node as plain Python data (for template vars); aliases never reach here."""
    if isinstance(node, yaml.MappingNode):
        return {plain_value(k): plain_value(v) for k, v in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [plain_value(v) for v in node.value]
    return yaml.constructor.SafeConstructor().construct_object(node)
