"""SHA-256 in hex, of bytes, a file or text: what records and fingerprints compare."""

from __future__ import annotations


def sha256(data: bytes) -> str:
    """The hex SHA-256 of data, from CPython's builtin _sha256 where it has one: hashlib's import loads
    OpenSSL (milliseconds of the no-op apply); the digest is the same."""
    try:
        from _sha256 import sha256 as builtin  # type: ignore[import-not-found]
    except ImportError:
        from hashlib import sha256 as builtin
    return builtin(data).hexdigest()


def file_sha256(path: str) -> str:
    """The hex SHA-256 of a (host) file's bytes."""
    with open(path, "rb") as f:
        return sha256(f.read())


def text_sha256(text: str) -> str:
    return sha256(text.encode())
