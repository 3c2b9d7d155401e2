"""Deployment packages: deterministic zips of a directory or of one inline source file, and the
rules an uploaded package's entries must follow.

A fixed timestamp and normalized modes make zipping the same tree give the same bytes, so
CodeSha256 changes only when the code does. ``eventinvoke create-function --code DIR`` and
``eventinvoke deploy`` both package with these.

``unsafe_entry`` is asked twice: by the Invoker when a package is uploaded (refused with its
answer), and by the Executor before it unpacks one (a package that reached the store some other
way is never unpacked). The server may run as root, so no entry may touch anything outside the
code directory: no absolute or ``..`` names, no symbolic link that leads outside (relative links
that stay inside are kept, as Lambda keeps them), no entry under a link, and no mode beyond the
permission bits of a regular file, a directory or a link.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import stat
import zipfile
from pathlib import Path

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def zip_directory(root: Path) -> bytes:
    """A directory's files, relative to it, in sorted order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            # Bytecode caches differ from machine to machine and would change CodeSha256.
            if not path.is_file() or "__pycache__" in relative.parts:
                continue
            # Keep only "executable or not": a custom runtime's `bootstrap` must stay runnable.
            mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            _write(archive, relative.as_posix(), path.read_bytes(), mode)
    return buffer.getvalue()


def zip_source(filename: str, source: str) -> bytes:
    """A package holding one file (CloudFormation's inline ``Code.ZipFile``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        _write(archive, filename, source.encode(), 0o644)
    return buffer.getvalue()


def _write(archive: zipfile.ZipFile, name: str, data: bytes, mode: int) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (stat.S_IFREG | mode) << 16
    archive.writestr(info, data)


# A link's target is the entry's data; longer than PATH_MAX is no link a system could follow.
MAX_LINK_TARGET = 4095
# Links followed while resolving one target, as Linux's own limit (ELOOP).
MAX_LINK_HOPS = 40
EXCERPT = 100  # characters of an entry's name or link target quoted in a refusal
_DRIVE = re.compile(r"[A-Za-z]:")


def entry_mode(info: zipfile.ZipInfo) -> int:
    """The Unix mode a zip entry carries (type and permission bits), 0 when it has none."""
    return info.external_attr >> 16


def is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(entry_mode(info))


def link_target(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    """A link entry's target (its data), as ``os.symlink`` takes it."""
    return os.fsdecode(archive.read(info))


def unsafe_entry(archive: zipfile.ZipFile) -> str | None:
    """Why the package must not be unpacked, naming its first bad entry; None when it is safe.

    Reads only the links' targets (an entry's data), so call it after the unzipped size is known
    to be bounded.
    """
    links: dict[str, str] = {}
    for info in archive.infolist():
        problem = _bad_name(info.filename) or _bad_mode(info)
        if problem:
            return problem
        if is_link(info):
            if not 0 < info.file_size <= MAX_LINK_TARGET:
                return f"{_quote(info.filename)} is a symbolic link without a usable target"
            links[_key(info.filename)] = link_target(archive, info)
    names = [_key(info.filename) for info in archive.infolist()]
    for name in names:
        parts = name.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in links:
                return f"{_quote(name)} is inside the symbolic link '{_excerpt(parent)}'"
        if name in links and names.count(name) > 1:
            return f"{_quote(name)} is both a symbolic link and another entry"
    for name, target in links.items():
        if _link_leaves_root(links, name):
            return f"{_quote(name)} is a symbolic link to '{_excerpt(target)}', outside the package"
    return None


def _bad_name(name: str) -> str | None:
    """Absolute, drive-letter and ``..`` names (a backslash counts as a separator: Windows zip
    tools write them). zipfile itself cuts a name at a NUL, so none gets here."""
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or _DRIVE.match(name) or ".." in parts or not name.strip("/"):
        return f"{_quote(name)} is not a relative path inside the package"
    return None


def _bad_mode(info: zipfile.ZipInfo) -> str | None:
    mode = entry_mode(info)
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK):
        return f"{_quote(info.filename)} is not a file, a directory or a symbolic link"
    if stat.S_IMODE(mode) & ~0o777:
        # setuid, setgid or sticky: a package gets permission bits and nothing more.
        bits = f"{stat.S_IMODE(mode):04o}"
        return f"{_quote(info.filename)} has mode {bits}: only permission bits are allowed"
    return None


def _key(name: str) -> str:
    """An entry's path as extraction sees it: no empty or ``.`` components, no trailing slash."""
    return "/".join(part for part in name.split("/") if part not in ("", "."))


def _link_leaves_root(links: dict[str, str], name: str) -> bool:
    """Whether the link ``name`` leads outside the package (or loops), resolved as the kernel
    would, through the package's other links: a link to ``.`` makes ``link/..`` the parent of
    the root, which a look at the target's text alone would miss."""
    resolved = _key(posixpath.dirname(name)).split("/") if "/" in name else []
    pending = links[name].split("/")
    if links[name].startswith("/") or "\0" in links[name]:
        return True
    hops = 0
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                return True
            resolved.pop()
            continue
        path = "/".join([*resolved, part])
        if path in links:
            hops += 1
            if hops > MAX_LINK_HOPS or links[path].startswith("/"):
                return True
            pending = links[path].split("/") + pending
            continue
        resolved.append(part)
    return False


def _quote(name: str) -> str:
    return f"the entry '{_excerpt(name)}'"


def _excerpt(text: str) -> str:
    """A name or link target as a refusal quotes it: printable, and short (it travels in an
    error trailer)."""
    shown = text if text.isprintable() else text.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= EXCERPT else shown[: EXCERPT - 1] + "…"
