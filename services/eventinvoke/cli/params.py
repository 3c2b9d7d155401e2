"""Reading the AWS CLI's kinds of parameter values: ``file://``/``fileb://``, JSON or shorthand
structures, and deployment packages. Pure functions that raise ``ValueError`` on bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eventinvoke.core.packaging import zip_directory


def _read_file(value: str, prefix: str) -> bytes:
    path = value.removeprefix(prefix)
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ValueError(f"Unable to load paramfile {value}: {exc}") from None


def read_blob(value: str) -> bytes:
    """A blob parameter (``--payload``): ``fileb://`` raw bytes, ``file://`` text, or inline."""
    if value.startswith("fileb://"):
        return _read_file(value, "fileb://")
    if value.startswith("file://"):
        return _read_file(value, "file://")
    return value.encode()


def read_text(value: str) -> str:
    """A text parameter, inline or from ``file://`` (``fileb://`` too, as the AWS CLI allows)."""
    for prefix in ("file://", "fileb://"):
        if value.startswith(prefix):
            return _read_file(value, prefix).decode("utf-8")
    return value


def parse_timestamp(value: str) -> float:
    """A timestamp parameter, as the AWS CLI takes one: ISO 8601 (UTC unless it says
    otherwise, ``2026-12-05T10:00:00Z``) or epoch seconds; epoch seconds back."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"Invalid timestamp {value!r}: give ISO 8601 (2026-12-05T10:00:00Z) or epoch seconds"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def parse_structure(value: str) -> Any:
    """A structure parameter: JSON (``{...}``) or AWS shorthand (``Variables={K=V,K2=V2}``)."""
    text = read_text(value).strip()
    if text.startswith(("{", "[")):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ValueError(f"Invalid JSON: {exc}") from None
    return parse_shorthand(text)


def parse_shorthand(text: str) -> dict[str, Any]:
    """AWS CLI shorthand: ``K=V,K2={A=B},K3=[x,y]``, values optionally quoted."""
    return _Shorthand(text).pairs(end="")


class _Shorthand:
    """A small recursive-descent parser for the shorthand subset the AWS docs use.

    Not the AWS CLI's own (``awscli.shorthand``): importing any part of awscli 1.4x puts its
    vendored botocore in place of the installed one for the whole process, which breaks
    aiobotocore (the destination adapters) in the same interpreter."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, expected: str) -> ValueError:
        return ValueError(
            f"Error parsing shorthand {self.text!r}: expected {expected} at position {self.pos}"
        )

    def peek(self) -> str:
        self.skip_spaces()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise self.error(repr(char) if char else "end of input")
        self.pos += len(char)

    def pairs(self, end: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if self.peek() == end:
            self.expect(end)
            return result
        while True:
            key = self.scalar(stop=",=" + end).strip()
            if not key:
                raise self.error("a key")
            self.expect("=")
            result[key] = self.value(end)
            if self.peek() == ",":
                self.pos += 1
                continue
            self.expect(end)
            return result

    def value(self, end: str) -> Any:
        char = self.peek()
        if char == "{":
            self.pos += 1
            return self.pairs(end="}")
        if char == "[":
            self.pos += 1
            items: list[Any] = []
            while self.peek() != "]":
                items.append(self.value(end="]"))
                if self.peek() == ",":
                    self.pos += 1
                elif self.peek() != "]":
                    raise self.error("',' or ']'")
            self.pos += 1
            return items
        return self.scalar(stop="," + end).strip()

    def scalar(self, stop: str) -> str:
        char = self.peek()
        if char in ("'", '"'):
            close = self.text.find(char, self.pos + 1)
            if close < 0:
                raise self.error(f"closing {char}")
            value = self.text[self.pos + 1 : close]
            self.pos = close + 1
            return value
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in stop:
            self.pos += 1
        return self.text[start : self.pos]


def read_code(value: str) -> bytes:
    """``--code``: a directory (zipped in memory), ``fileb://x.zip`` or a path to a zip file."""
    if value.startswith(("fileb://", "file://")):
        return _read_file(value, "fileb://" if value.startswith("fileb://") else "file://")
    path = Path(value).expanduser()
    if path.is_dir():
        return zip_directory(path)
    if path.is_file():
        return path.read_bytes()
    raise ValueError(f"{value} is neither a directory nor a zip file")
