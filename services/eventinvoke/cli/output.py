"""The AWS CLI's three output formats, ``--output json|text|table``, as pure functions.

``text`` and ``table`` follow awscli's ``text.py`` and ``formatter.TableFormatter`` /
``table.MultiTable`` (AWS CLI 1.x) rule for rule, without colour, so scripts written against
``aws ... --output text`` read ours the same way. Written here rather than imported because awscli
is a heavy package this command does not otherwise need; the tests compare both on the same data.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

FORMATS = ("json", "text", "table")


def render(value: Any, output: str, title: str, width: int = 80) -> str:
    """``value`` as the AWS CLI prints it in format ``output``. ``title`` heads a table (the AWS
    operation's name); ``width`` is the terminal's, past which a table turns one-row sections
    into key/value columns."""
    if output == "text":
        return text(value)
    if output == "table":
        return table(value, title, width)
    return json.dumps(value, indent=4, ensure_ascii=False) + "\n"


def _scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


# --- text: tab-separated values; a list of dicts is one row per dict ---------------------------


def text(value: Any) -> str:
    lines: list[str] = []
    _text(value, lines)
    return "".join(line + "\n" for line in lines)


def _text(
    item: Any, lines: list[str], identifier: str | None = None, keys: list[str] | None = None
) -> None:
    if isinstance(item, dict):
        _text_dict(item, lines, identifier, keys)
    elif isinstance(item, list):
        _text_list(item, lines, identifier)
    else:
        lines.append(str(item))


def _text_list(items: list[Any], lines: list[str], identifier: str | None) -> None:
    if not items:
        return
    if any(isinstance(element, dict) for element in items):
        # Every row gets the columns of every dict, so the rows line up.
        keys = sorted({k for element in items for k, v in element.items() if _scalar(v)})
        for element in items:
            _text(element, lines, identifier, keys)
    elif any(isinstance(element, list) for element in items):
        scalars = [element for element in items if _scalar(element)]
        if scalars:
            _text_scalars(scalars, lines, identifier)
        for element in items:
            if not _scalar(element):
                _text(element, lines, identifier)
    else:
        _text_scalars(items, lines, identifier)


def _text_scalars(items: list[Any], lines: list[str], identifier: str | None) -> None:
    if identifier is None:
        lines.append("\t".join(str(item) for item in items))
    else:
        lines.extend(f"{identifier.upper()}\t{item}" for item in items)


def _text_dict(
    item: dict[str, Any], lines: list[str], identifier: str | None, keys: list[str] | None
) -> None:
    if keys is None:
        scalars = [str(v) for _, v in sorted(item.items()) if _scalar(v)]
        nested = [(k, v) for k, v in sorted(item.items()) if not _scalar(v)]
    else:
        scalars = [str(item.get(key, "")) for key in keys]
        nested = [(k, item[k]) for k in sorted(set(item) - set(keys))]
    if scalars:
        row = scalars if identifier is None else [identifier.upper(), *scalars]
        lines.append("\t".join(row))
    for key, value in nested:
        _text(value, lines, key)


# --- table: titled, boxed sections; nested structures indent ------------------------------------


def _length(value: str) -> int:
    """Display width: East Asian wide, full-width and ambiguous characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(char) in "WFA" else 1 for char in value)


class _Section:
    def __init__(self, title: str, indent: int) -> None:
        self.title = title
        self.indent = indent
        self.headers: list[str] = []
        self.rows: list[list[str]] = []
        self.widths: list[int] = []  # the widest cell of each column

    def _widen(self, cells: list[str]) -> None:
        if not self.widths:
            self.widths = [_length(cell) for cell in cells]
        else:
            for i, cell in enumerate(cells):
                self.widths[i] = max(_length(cell), self.widths[i])

    def add_headers(self, headers: list[str]) -> None:
        self._widen(headers)
        self.headers = headers

    def add_row(self, row: list[Any]) -> None:
        cells = [str(cell) for cell in row]
        self.rows.append(cells)
        self._widen(cells)

    def total_width(self) -> int:
        """With four spaces of padding per column, the border and the indentation bars."""
        columns = sum(width + 4 for width in self.widths) + 2 + 2 * self.indent
        return max(_length(self.title) + 2 + 2 * self.indent, columns)

    def column_widths(self, total: int) -> list[int]:
        """The padded column widths scaled to fill ``total`` exactly, as awscli scales them."""
        unscaled = [width + 4 for width in self.widths]
        if not unscaled:
            return []
        factor = total / float(sum(unscaled))
        scaled = [int(round(factor * width)) for width in unscaled]
        off_by = sum(scaled) - total
        while off_by != 0:
            order = range(len(scaled)) if off_by > 0 else reversed(range(len(scaled)))
            for i in order:
                if off_by > 0:
                    scaled[i] -= 1
                    off_by -= 1
                else:
                    scaled[i] += 1
                    off_by += 1
                if off_by == 0:
                    break
        return scaled


def _centered(text: str, length: int, left: str = "|", right: str = "|") -> str:
    start = length // 2 - _length(text) // 2 - 1
    so_far = len(left) + start + _length(text)
    return left + " " * start + text + " " * (length - len(right) - so_far) + right


def _left_aligned(text: str, length: int, left: str, right: str = "|") -> str:
    padding = 2 if length - (_length(text) + 2 + len(left) + len(right)) >= 0 else 0
    so_far = len(left) + padding + _length(text)
    return left + " " * padding + text + " " * (length - so_far - len(right)) + right


class _Table:
    """awscli's TableFormatter: which sections a response becomes."""

    def __init__(self) -> None:
        self.sections: list[_Section] = []

    @property
    def current(self) -> _Section:
        return self.sections[-1]

    def build(self, title: str | None, value: Any, indent: int = 0) -> bool:
        if not value:
            return False
        if title is not None:
            self.sections.append(_Section(title, indent))
        if isinstance(value, list):
            if isinstance(value[0], dict):
                self._list_of_dicts(value, indent, title)
            else:
                for item in value:
                    if _scalar(item):
                        self.current.add_row([item])
                    elif all(_scalar(element) for element in item):
                        self.current.add_row(list(item))
                    else:
                        self.build(None, item)
        if isinstance(value, dict):
            self._dict(value, indent)
        return True

    def _dict(self, value: dict[str, Any], indent: int) -> None:
        headers = sorted(k for k, v in value.items() if _scalar(v))
        nested = sorted(k for k, v in value.items() if not _scalar(v))
        if len(headers) == 1:
            self.current.add_row([headers[0], value[headers[0]]])
        elif headers:
            self.current.add_headers(headers)
            self.current.add_row([value[k] for k in headers])
        for key in nested:
            self.build(key, value[key], indent + 1)

    def _list_of_dicts(self, items: list[Any], indent: int, title: str | None) -> None:
        headers = sorted({k for item in items for k, v in item.items() if _scalar(v)})
        nested = sorted({k for item in items for k, v in item.items() if not _scalar(v)})
        self.current.add_headers(headers)
        for position, item in enumerate(items):
            if position and nested:  # each item's nested parts follow its own row
                self.sections.append(_Section(title or "", indent))
                self.current.add_headers(headers)
            self.current.add_row([item.get(header, "") for header in headers])
            for key in nested:
                if key in item:
                    self.build(key, item[key], indent + 1)

    def render(self, width: int) -> str:
        total = max(section.total_width() for section in self.sections)
        if total > width:
            # Too wide for the terminal: one-row sections become key/value pairs.
            self.sections = [_vertical(section) for section in self.sections]
            total = max(section.total_width() for section in self.sections)
        lines = ["-" * total]
        for section in self.sections:
            bars = "|" * section.indent
            lines += [bars + line + bars for line in _section_lines(section, total)]
        return "".join(line + "\n" for line in lines)


def _vertical(section: _Section) -> _Section:
    if len(section.rows) != 1 or not section.headers:
        return section
    turned = _Section(section.title, section.indent)
    for header, cell in zip(section.headers, section.rows[0], strict=False):
        turned.add_row([header, cell])
    return turned


def _section_lines(section: _Section, total: int) -> list[str]:
    width = total - 2 * section.indent
    lines = []
    if section.title:
        lines.append(_centered(section.title, width))
        if not section.headers and not section.rows:
            lines.append("+" + "-" * (width - 2) + "+")
    widths = section.column_widths(width)
    if section.headers:
        lines.append(_rule(widths))
        lines.append(
            "".join(
                _centered(header, w, "|" if i == 0 else "")
                for i, (w, header) in enumerate(zip(widths, section.headers, strict=False))
            )
        )
    if section.rows and widths:
        lines.append(_rule(widths))
        for row in section.rows:
            lines.append(
                "".join(
                    _left_aligned(cell, w, "|" if i == 0 else "")
                    for i, (w, cell) in enumerate(zip(widths, row, strict=False))
                )
            )
        lines.append(_rule(widths))
    return lines


def _rule(widths: list[int]) -> str:
    """``+-------+---------+``"""
    return "".join(
        "+" + "-" * (w - 2) + "+" if i == 0 else "-" * (w - 1) + "+" for i, w in enumerate(widths)
    )


def table(value: Any, title: str, width: int = 80) -> str:
    built = _Table()
    return built.render(width) if built.build(title, value) else ""
