"""An independent reader of unit-file values, written from systemd.syntax(7) and
systemd.service(5), to check that what jailmgr writes reads back unchanged."""

_C_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
              "\\": "\\", '"': '"', "'": "'", "s": " "}
_WS = " \t"


def expand_specifiers(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "%":
            nxt = value[i + 1:i + 2]
            if nxt != "%":
                raise ValueError(f"unescaped specifier %{nxt} in {value!r}")
            out.append("%")
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def extract_first_word(value: str, i: int) -> tuple[str | None, int]:
    """extract_first_word(EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE) from position i."""
    n = len(value)
    while i < n and value[i] in _WS:
        i += 1
    if i >= n:
        return None, i
    word: list[str] = []
    quote = None
    while i < n:
        ch = value[i]
        if quote is None and ch in _WS:
            break
        if ch == "\\":
            nxt = value[i + 1:i + 2]
            if nxt not in _C_ESCAPES:
                raise ValueError(f"unknown escape \\{nxt}")
            word.append(_C_ESCAPES[nxt])
            i += 2
            continue
        if quote is None and ch in "\"'":
            quote = ch
        elif quote is not None and ch == quote:
            quote = None
        else:
            word.append(ch)
        i += 1
    if quote is not None:
        raise ValueError("unterminated quote")
    return "".join(word), i


def split_words(value: str) -> list[str]:
    words, i = [], 0
    while True:
        word, i = extract_first_word(value, i)
        if word is None:
            return words
        words.append(word)


def _lone(value: str, i: int, token: str) -> bool:
    end = i + len(token)
    return value.startswith(token, i) and (end == len(value) or value[end] in _WS)


def join_continuations(text: str) -> str:
    """Unit-file reading: a line ending in a backslash continues, the backslash read as a space."""
    return text.replace("\\\n", " ")


def parse_exec(value: str) -> list[str]:
    """What systemd runs for `ExecStart=value`: specifiers, words (with config_parse_exec's
    checks for a lone `;` and `\\;`), then `$$` -> `$`."""
    raw = expand_specifiers(join_continuations(value))
    argv, i = [], 0
    while True:
        while i < len(raw) and raw[i] in _WS:
            i += 1
        if i >= len(raw):
            break
        if _lone(raw, i, ";"):
            raise ValueError("a lone ; separates commands")
        if _lone(raw, i, "\\;"):
            argv.append(";")
            i += 2
            continue
        word, i = extract_first_word(raw, i)
        assert word is not None
        if "$" in word.replace("$$", ""):
            raise ValueError(f"unescaped variable in {word!r}")
        argv.append(word.replace("$$", "$"))
    return argv
