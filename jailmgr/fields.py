"""Field kinds: one table drives parsing, error messages and the JSON Schema.

Each kind turns a YAML node into a typed value or records a Problem at the
node's position and returns INVALID.  The YAML 1.1 surprises (``no`` read as
a boolean, ``644`` read as decimal) are caught here, by looking at the tag the
parser resolved rather than at the Python value.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re

import yaml

from . import yamlsrc
from .problems import Problem, parent_key
from .yamlsrc import BOOL, FLOAT, INT, NULL, STR, Source

TYPE_CHECKING = False  # typing costs milliseconds at startup; it is only needed by checkers
if TYPE_CHECKING:
    from typing import Any


def close(word: str, choices: list[str] | tuple[str, ...]) -> list[str]:
    """Did-you-mean candidates; difflib is imported only when there is a mistake.

    A word that begins exactly one choice is a name cut short (CAP_NET_BIND
    for CAP_NET_BIND_SERVICE): that choice, before any merely similar one."""
    import difflib

    started = [c for c in choices if c.startswith(word)] if len(word) >= 3 else []
    if len(started) == 1:
        return started
    return difflib.get_close_matches(word, list(started or choices), 1, 0.6)


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()
UNIT_UNSAFE = " \t\"'\\:"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class Ctx:
    """Where problems go, and which node each key path came from."""

    def __init__(self, src: Source) -> None:
        self.src = src
        self.problems: list[Problem] = []
        self.nodes: dict[str, yaml.Node] = {}

    def fail(self, node: yaml.Node | None, key: str, message: str) -> Any:
        self.problems.append(self.src.at(node, key, message))
        return INVALID

    def at(self, key: str, message: str) -> None:
        """Report at the node of a key path, or its nearest parent that exists.

        Keys that already have a problem (or sit under one that has) are not
        reported again: a follow-on error would only repeat the first one.
        """
        for problem in self.problems:
            if key == problem.key or key.startswith((problem.key + ".", problem.key + "[")):
                return
        probe = key
        while probe and probe not in self.nodes:
            probe = parent_key(probe)
        self.fail(self.nodes.get(probe), key, message)


def describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return {BOOL: "a boolean", INT: "an integer", FLOAT: "a number", NULL: "empty (null)"}.get(
        node.tag, "a string")


class Kind:
    doc = ""

    def parse(self, node: yaml.Node, ctx: Ctx, key: str) -> Any:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError


class Text(Kind):
    """A string; YAML booleans and numbers are refused, not converted."""

    def __init__(self, pattern: str | None = None, what: str = "", numbers: bool = False,
                 max_len: int = 4096) -> None:
        self.pattern = re.compile(pattern) if pattern else None
        self.what = what
        self.numbers = numbers
        self.max_len = max_len

    def parse(self, node: yaml.Node, ctx: Ctx, key: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return ctx.fail(node, key, f"expected a string, found {describe(node)}")
        if node.tag == BOOL:
            return ctx.fail(node, key, f"{node.value!r} is a boolean in YAML, not a string; "
                            f"quote it (\"{node.value}\") if you mean the text")
        if node.tag in (INT, FLOAT) and not self.numbers:
            return ctx.fail(node, key, f"expected a string, found {describe(node)} ({node.value}); quote it")
        if node.tag == NULL:
            return ctx.fail(node, key, "expected a string, found nothing")
        value = node.value
        if _CONTROL.search(value):
            return ctx.fail(node, key, "contains a newline or control character")
        if len(value) > self.max_len:
            return ctx.fail(node, key, f"longer than {self.max_len} characters")
        if self.pattern and not self.pattern.fullmatch(value):
            return ctx.fail(node, key, f"{value!r} is not {self.what}")
        return value

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string"}
        if self.pattern:
            out["pattern"] = f"^(?:{self.pattern.pattern})$"
        return out


class Address(Text):
    """An IP address or prefix (systemd's IPAddressAllow=), a keyword, or with
    `interface` an address/prefix of an interface; checked by `ipaddress`."""

    KEYWORDS = ("localhost", "link-local", "multicast", "any")

    def __init__(self, what: str, interface: bool = False) -> None:
        super().__init__(r"[0-9a-zA-Z:./-]+", what)
        self.interface = interface

    def parse(self, node: yaml.Node, ctx: Ctx, key: str) -> Any:
        value = super().parse(node, ctx, key)
        if value is INVALID or (not self.interface and value in self.KEYWORDS):
            return value
        why = _address_problem(value, need_prefix=self.interface)
        if why:
            return ctx.fail(node, key, f"{value!r} is not {self.what}: {why}")
        return value


def _address_problem(value: str, need_prefix: bool) -> str | None:
    import ipaddress

    address, slash, prefix = value.partition("/")
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return f"{address} is not an IPv4 or IPv6 address"
    if not slash:
        return "it needs a /prefix" if need_prefix else None
    bits = parsed.max_prefixlen
    if not prefix.isdigit() or int(prefix) > bits:
        return f"the prefix must be 0 to {bits} for IPv{parsed.version}"
    return None


class Multiline(Text):
    """Free text that may span lines (file content); never reaches a unit."""

    def parse(self, node: yaml.Node, ctx: Ctx, key: str) -> Any:
        if not isinstance(node, yaml.ScalarNode) or node.tag != STR:
            return ctx.fail(node, key, f"expected a string, found {describe(node)}")
        if "\0" in node.value:
            return ctx.fail(node, key, "contains a NUL character")
        return node.value

    def schema(self) -> dict[str, Any]:
        return {"type": "string"}


class Path(Text):
    """An absolute, normalized path: no ``..``, no ``//``, no trailing slash."""

    def __init__(self, what: str = "an absolute path", allow_root: bool = True) -> None:
        super().__init__(what=what)
        self.allow_root = allow_root

    def parse(self, node: yaml.Node, ctx: Ctx, key: str) -> Any:
        value = super().parse(node, ctx, key)
        if value is INVALID:
            return value
        if not value.startswith("/"):
            return ctx.fail(node, key, f"{value!r} is not {self.what} (it must start with /)")
        parts = value.split("/")[1:]
        if ".." in parts or "." in parts:
            return ctx.fail(node, key, f"{value!r} must not contain '.' or '..' components")
        # (normpath keeps a leading "//", which POSIX leaves to the system: Linux reads it as "/", and the
        # checks that compare paths by their text would miss "//run" for /run)
        if value != "/" and (posixpath.normpath(value) != value or value.startswith("//")):
            fixed = "/" + posixpath.normpath(value).lstrip("/")
            return ctx.fail(node, key, f"{value!r} is not normalized; write {fixed!r}")
        bad = sorted(set(value) & set(UNIT_UNSAFE))
        if bad:
            return ctx.fail(node, key, f"{value!r} contains {''.join(bad)!r}; paths may not hold spaces, "
                            "quotes, backslashes or colons (they reach systemd unit lines)")
        if value == "/" and not self.allow_root:
            return ctx.fail(node, key, "'/' is not allowed here")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": "^/"}


class Flag(Kind):
    def parse(self, node: yaml.Node, ctx: Ctx, key: str) -> Any:
        if isinstance(node, yaml.ScalarNode) and node.tag == BOOL:
            return node.value.lower() in ("true", "yes", "on", "y")
        return ctx.fail(node, key, f"expected true or false, found {describe(node)}")

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


class Integer(Kind):
    def __init__(self, low: int = 0, high: int = 1 << 62, infinity: bool = False) -> None:
        self.low, self.high, self.infinity = low, high, infinity

    def parse(self, node: yaml.Node, ctx: Ctx, key: str) -> Any:
        if self.infinity and isinstance(node, yaml.ScalarNode) and node.value == "infinity":
            return "infinity"
        if not isinstance(node, yaml.ScalarNode) or node.tag != INT:
            return ctx.fail(node, key, f"expected an integer, found {describe(node)}")
        value = yamlsrc.plain_value(node)
        assert isinstance(value, int)
        if not self.low <= value <= self.high:
            return ctx.fail(node, key, f"{value} is out of range {self.low}..{self.high}")
        return value

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "integer", "minimum": self.low, "maximum": self.high}
        return {"anyOf": [out, {"const": "infinity"}]} if self.infinity else out


class Duration(Kind):
    """Seconds, as an integer or with a unit (30s, 2min, 1h), as systemd's time spans read."""

    _RE = re.compile(r"([0-9]+)\s*(s|sec|m|min|h)?")
    _SECONDS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}

    def __init__(self, low: int = 1, high: int = 3600) -> None:
        self.low, self.high = low, high

    def parse(self, node: yaml.Node, ctx: Ctx, key: str) -> Any:
        if isinstance(node, yaml.ScalarNode) and node.tag in (INT, STR):
            match = self._RE.fullmatch(node.value.strip())
            if match:
                value = int(match.group(1)) * self._SECONDS[match.group(2)]
                if self.low <= value <= self.high:
                    return value
                return ctx.fail(node, key, f"{node.value} is out of range {self.low}s..{self.high}s")
        shown = node.value if isinstance(node, yaml.ScalarNode) else describe(node)
        return ctx.fail(node, key, f"{shown!r} is not a time span (e.g. 30s, 2min)")

    def schema(self) -> dict[str, Any]:
        return {"anyOf": [{"type": "integer", "minimum": self.low, "maximum": self.high},
                          {"type": "string", "pattern": "^[0-9]+ *(s|sec|m|min|h)?$"}]}


class WordOrRecord(Kind):
    """One word of a closed set (read as `word_value(word)`) or a mapping read by a Record."""

    def __init__(self, words: dict[str, Any], record: Kind, example: str) -> None:
        self.words, self.record, self.example = words, record, example

    def parse(self, node: yaml.Node, ctx: Ctx, key: str) -> Any:
        if isinstance(node, yaml.MappingNode):
            return self.record.parse(node, ctx, key)
        if isinstance(node, yaml.ScalarNode) and node.tag == STR and node.value in self.words:
            return self.words[node.value]
        shown = repr(node.value) if isinstance(node, yaml.ScalarNode) else describe(node)
        return ctx.fail(node, key, f"{shown} is not {' or '.join(self.words)} or a mapping such as {self.example}")

    def schema(self) -> dict[str, Any]:
        return {"anyOf": [{"enum": list(self.words)}, self.record.schema()]}


class Size(Kind):
    """Bytes, as an integer or with a K/M/G/T suffix (base 1024, as systemd reads it).

    With `off`, YAML's false is a value too: none (read as None); with `finite`, `infinity` is refused."""

    _RE = re.compile(r"([0-9]+)([KMGT]?)")

    def __init__(self, off: bool = False, finite: bool = False) -> None:
        self.off, self.finite = off, finite

    def parse(self, node: yaml.Node, ctx: Ctx, key: str) -> Any:
        if self.off and isinstance(node, yaml.ScalarNode) and node.tag == BOOL:
            if node.value.lower() in ("false", "no", "off", "n"):
                return None
            return ctx.fail(node, key, f"{node.value!r}: give a size (e.g. 64M), or false for none")
        if isinstance(node, yaml.ScalarNode) and node.tag in (INT, STR):
            if node.value == "infinity":
                if self.finite:
                    return ctx.fail(node, key, "infinity is not allowed here: give a size (e.g. 64M)")
                return "infinity"
            match = self._RE.fullmatch(node.value.strip().upper().removesuffix("B"))
            if match and (node.tag == STR or match.group(2) == ""):
                value = int(match.group(1)) * _UNITS[match.group(2)]
                if value > 0:
                    return value
        shown = node.value if isinstance(node, yaml.ScalarNode) else describe(node)
        return ctx.fail(node, key, f"{shown!r} is not a size (e.g. 256M)" + (" or false" if self.off else ""))

    def schema(self) -> dict[str, Any]:
        words = "" if self.finite else "|infinity"
        out: list[dict[str, Any]] = [{"type": "integer", "minimum": 1},
                                     {"type": "string", "pattern": f"^([0-9]+[KMGTkmgt]?[Bb]?{words})$"}]
        if self.off:
            out.append({"const": False})
        return {"anyOf": out}


class Percent(Kind):
    _RE = re.compile(r"([0-9]{1,5})%")

    def parse(self, node: yaml.Node, ctx: Ctx, key: str) -> Any:
        if isinstance(node, yaml.ScalarNode) and node.tag == STR:
            match = self._RE.fullmatch(node.value)
            if match and int(match.group(1)) > 0:
                return int(match.group(1))
        shown = node.value if isinstance(node, yaml.ScalarNode) else describe(node)
        return ctx.fail(node, key, f"{shown!r} is not a CPU share (e.g. 50%, or 200% for two CPUs)")

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": "^[0-9]{1,5}%$"}


class Mode(Kind):
    """A file mode as an octal string; a bare YAML integer is refused (644 is not 0o644)."""

    _RE = re.compile(r"0?[0-7]{3,4}")

    def parse(self, node: yaml.Node, ctx: Ctx, key: str) -> Any:
        if isinstance(node, yaml.ScalarNode) and node.tag == INT:
            return ctx.fail(node, key, f"mode {node.value} is a number; write modes as octal "
                            f"strings, e.g. \"0{node.value.lstrip('0')}\"")
        if not isinstance(node, yaml.ScalarNode) or node.tag != STR or not self._RE.fullmatch(node.value):
            shown = node.value if isinstance(node, yaml.ScalarNode) else describe(node)
            return ctx.fail(node, key, f"{shown!r} is not an octal mode string (e.g. \"0644\")")
        mode = int(node.value, 8)
        if mode & 0o7000:
            return ctx.fail(node, key, f"{node.value}: setuid, setgid and sticky bits are not allowed in a jail tree")
        return mode

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": "^0?[0-7]{3,4}$"}


class Choice(Kind):
    """One of a closed set: strings, or a StrEnum whose members the parsed value then is."""

    def __init__(self, *values: Any, false_means: str | None = None) -> None:
        from enum import EnumMeta

        self.enum = values[0] if len(values) == 1 and isinstance(values[0], EnumMeta) else None
        members: list[Any] = list(self.enum) if self.enum is not None else list(values)
        self.values: tuple[str, ...] = tuple(str(v) for v in members)
        self.false_means = false_means  # `restart: no` reads as a YAML boolean

    def parse(self, node: yaml.Node, ctx: Ctx, key: str) -> Any:
        if isinstance(node, yaml.ScalarNode):
            if node.tag == BOOL and self.false_means and node.value.lower() in ("no", "false", "off", "n"):
                return self.enum(self.false_means) if self.enum else self.false_means
            if node.tag == STR and node.value in self.values:
                return self.enum(node.value) if self.enum else node.value
            hint = close(node.value, self.values)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            known = f"one of {', '.join(self.values)}" if len(self.values) <= 8 else "a known value"
            return ctx.fail(node, key, f"{node.value!r} is not {known}{extra}")
        return ctx.fail(node, key, f"expected one of {', '.join(self.values)}, found {describe(node)}")

    def schema(self) -> dict[str, Any]:
        values: list[Any] = list(self.values)
        if self.false_means:
            values.append(False)
        return {"enum": values}


class Anything(Kind):
    def parse(self, node: yaml.Node, ctx: Ctx, key: str) -> Any:
        return yamlsrc.plain_value(node)

    def schema(self) -> dict[str, Any]:
        return {}


class ListOf(Kind):
    def __init__(self, item: Kind, unique: bool = True) -> None:
        self.item, self.unique = item, unique

    def parse(self, node: yaml.Node, ctx: Ctx, key: str) -> Any:
        if not isinstance(node, yaml.SequenceNode):
            return ctx.fail(node, key, f"expected a list, found {describe(node)}")
        out: list[Any] = []
        for i, child in enumerate(node.value):
            ckey = f"{key}[{i}]"
            ctx.nodes[ckey] = child
            value = self.item.parse(child, ctx, ckey)
            if value is INVALID:
                continue
            if self.unique and isinstance(value, (str, int)) and value in out:
                ctx.fail(child, ckey, f"{value!r} is listed twice")
                continue
            out.append(value)
        # Invalid items were reported and dropped, so later checks still run on the rest.
        return tuple(out)

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "items": self.item.schema()}


class MapOf(Kind):
    def __init__(self, key_pattern: str, what: str, value: Kind) -> None:
        self.key_re, self.what, self.value = re.compile(key_pattern), what, value

    def parse(self, node: yaml.Node, ctx: Ctx, key: str) -> Any:
        if not isinstance(node, yaml.MappingNode):
            return ctx.fail(node, key, f"expected a mapping, found {describe(node)}")
        out = {}
        for name, knode, vnode in yamlsrc.mapping_items(node, ctx.src, key, ctx.problems):
            ckey = f"{key}.{name}"
            if not self.key_re.fullmatch(name):
                ctx.fail(knode, ckey, f"{name!r} is not {self.what}")
                continue
            value = self.value.parse(vnode, ctx, ckey)
            if value is not INVALID:
                out[name] = value
        return tuple(sorted(out.items()))

    def schema(self) -> dict[str, Any]:
        return {"type": "object", "propertyNames": {"pattern": f"^(?:{self.key_re.pattern})$"},
                "additionalProperties": self.value.schema()}


def spec(kind: Kind, doc: str, default: Any = dataclasses.MISSING, name: str = "") -> Any:
    """A dataclass field described by its kind; no default means required."""
    meta = {"kind": kind, "doc": doc, "name": name}
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata=meta)
    if isinstance(default, (list, dict)):
        raise TypeError("use tuples for defaults")
    return dataclasses.field(default=default, metadata=meta)


class Record(Kind):
    """A mapping read into a frozen dataclass; unknown keys get a did-you-mean."""

    def __init__(self, cls: type) -> None:
        self.cls = cls

    def fields(self) -> list[tuple[str, dataclasses.Field[Any]]]:
        # (a field without a kind is set by the program, never read from the file)
        return [(f.metadata.get("name") or f.name, f) for f in dataclasses.fields(self.cls) if "kind" in f.metadata]

    def parse(self, node: yaml.Node, ctx: Ctx, key: str) -> Any:
        if not isinstance(node, yaml.MappingNode):
            return ctx.fail(node, key, f"expected a mapping, found {describe(node)}")
        table = dict(self.fields())
        values: dict[str, Any] = {}
        present: set[str] = set()
        for name, knode, vnode in yamlsrc.mapping_items(node, ctx.src, key, ctx.problems):
            ckey = f"{key}.{name}" if key else name
            present.add(name)
            field = table.get(name)
            if field is None:
                hint = close(name, list(table))
                extra = f"; did you mean {hint[0]!r}?" if hint else ""
                ctx.fail(knode, ckey, f"unknown key{extra}")
                continue
            ctx.nodes[ckey] = vnode
            value = field.metadata["kind"].parse(vnode, ctx, ckey)
            if value is not INVALID:
                values[field.name] = value
        for name, field in table.items():
            if _required(field) and field.name not in values:
                if name not in present:
                    ctx.fail(node, key or name, f"missing required key {name!r}" if key else "is required")
                # A placeholder keeps the record whole so that the cross-field
                # checks still run and every problem of the file is reported.
                values[field.name] = None
        return self.cls(**values)

    def schema(self) -> dict[str, Any]:
        props, required = {}, []
        for name, field in self.fields():
            entry = dict(field.metadata["kind"].schema())
            if field.metadata["doc"]:
                entry["description"] = field.metadata["doc"]
            props[name] = entry
            if _required(field):
                required.append(name)
        out: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": props}
        if required:
            out["required"] = required
        if self.cls.__doc__:
            out["description"] = self.cls.__doc__.strip().splitlines()[0]
        return out


def _required(field: dataclasses.Field[Any]) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
