"""SHA-256 in hex, of bytes, a file or text: what records and fingerprints compare."""

from __future__ import annotations

TYPE_CHECKING = False  # (typing costs milliseconds at startup; only the checkers need it)
if TYPE_CHECKING:
    from typing import Any


def hasher() -> Any:
    """A new SHA-256 object, CPython's builtin _sha256 where it has one: hashlib's import loads OpenSSL
    (milliseconds of the no-op apply); the digest is the same."""
    try:
        from _sha256 import sha256 as builtin  # type: ignore[import-not-found]
    except ImportError:
        from hashlib import sha256 as builtin
    return builtin()


def sha256(data: bytes) -> str:
    """The hex SHA-256 of data."""
    sha = hasher()
    sha.update(data)
    return str(sha.hexdigest())


def file_sha256(path: str) -> str:
    """The hex SHA-256 of a (host) file's bytes."""
    with open(path, "rb") as f:
        return sha256(f.read())


def text_sha256(text: str) -> str:
    return sha256(text.encode())
