"""Deployment packages whose entries reach outside the code directory (issue #16 §3): refused at
upload over gRPC with a message naming the entry, and refused again by the Executor's unpack if
one reaches the store, with nothing outside the code directory created or chmodded."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest
from conftest import Running

from eventinvoke.client import InvalidParameterValueException, RequestEntityTooLargeException
from eventinvoke.executor.code import UnsafePackageError, _unpack

HANDLER = "def handler(event, context):\n    return event\n"


def package(*entries: tuple[str, bytes | str, int]) -> bytes:
    """A zip of (name, data, Unix mode with its type bits) entries, made by a Unix zip tool."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", HANDLER)
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = mode << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def link(name: str, target: str) -> tuple[str, str, int]:
    return name, target, stat.S_IFLNK | 0o777


FILE = stat.S_IFREG | 0o644
LONG = "d/" * 80 + "x.py"

UNSAFE = {
    "absolute": (
        package(("/tmp/escaped.sh", "#!/bin/sh\n", stat.S_IFREG | 0o777)),
        "the entry '/tmp/escaped.sh' is not a relative path inside the package",
    ),
    "dot-dot": (
        package(("lib/../../escaped.sh", "x", FILE)),
        "the entry 'lib/../../escaped.sh' is not a relative path inside the package",
    ),
    "drive letter": (
        package(("C:/escaped.sh", "x", FILE)),
        "the entry 'C:/escaped.sh' is not a relative path inside the package",
    ),
    "backslashes": (
        package(("lib\\..\\..\\escaped.sh", "x", FILE)),
        "the entry 'lib\\..\\..\\escaped.sh' is not a relative path inside the package",
    ),
    "NUL in a link": (
        package(link("nul", "lib\0/../../etc")),
        "the entry 'nul' is a symbolic link to 'lib\\x00/../../etc', outside the package",
    ),
    "a long name is quoted short": (
        package(("../" + LONG, "x", FILE)),
        f"the entry '{('../' + LONG)[:99]}…' is not a relative path inside the package",
    ),
    "link outside": (
        package(link("passwd", "../../../etc/passwd")),
        "the entry 'passwd' is a symbolic link to '../../../etc/passwd', outside the package",
    ),
    "absolute link": (
        package(link("lib/etc", "/etc")),
        "the entry 'lib/etc' is a symbolic link to '/etc', outside the package",
    ),
    "link through a link to .": (
        # Lexically here/../x is x, inside; but here is the root, so here/.. is its parent.
        package(link("here", "."), link("up", "here/../escaped")),
        "the entry 'up' is a symbolic link to 'here/../escaped', outside the package",
    ),
    "file under a link": (
        package(link("lib", "."), ("lib/index.py", "x", FILE)),
        "the entry 'lib/index.py' is inside the symbolic link 'lib'",
    ),
    "link and file of one name": (
        package(link("lib", "src"), ("lib/", "", stat.S_IFDIR | 0o755)),
        "the entry 'lib' is both a symbolic link and another entry",
    ),
    "setuid": (
        package(("bin/tool", "x", stat.S_IFREG | 0o4755)),
        "the entry 'bin/tool' has mode 4755: only permission bits are allowed",
    ),
    "sticky directory": (
        package(("tmp/", "", stat.S_IFDIR | 0o1777)),
        "the entry 'tmp/' has mode 1777: only permission bits are allowed",
    ),
    "device": (
        package(("null", "", stat.S_IFCHR | 0o666)),
        "the entry 'null' is not a file, a directory or a symbolic link",
    ),
}


@pytest.mark.parametrize(("zip_file", "problem"), UNSAFE.values(), ids=UNSAFE.keys())
async def test_create_and_update_refuse_an_unsafe_package_naming_the_entry(
    suite: Running, zip_file: bytes, problem: str
) -> None:
    message = f"Unsafe deployment package: {problem}."
    with pytest.raises(InvalidParameterValueException) as created:
        await suite.client.create_function(
            function_name="fn", runtime="python3.11", handler="index.handler", zip_file=zip_file
        )
    assert created.value.message == message
    await suite.client.create_function(
        function_name="fn", runtime="python3.11", handler="index.handler", zip_file=package()
    )
    with pytest.raises(InvalidParameterValueException) as updated:
        await suite.client.update_function_code("fn", zip_file=zip_file)
    assert updated.value.message == message
    assert (await suite.client.invoke("fn", b'{"still": "served"}'))["Payload"] == (
        b'{"still": "served"}'
    )


async def test_a_package_over_50_mb_is_refused_with_aws_message(suite: Running) -> None:
    """AWS states the limit as the size of the base64-encoded request: 50 MB take 69905068."""
    with pytest.raises(RequestEntityTooLargeException) as raised:
        await suite.client.create_function(
            function_name="big",
            runtime="python3.11",
            handler="index.handler",
            zip_file=bytes(50 * 1024 * 1024),
        )
    assert raised.value.message == (
        "Request must be smaller than 69905067 bytes for the CreateFunction operation"
    )


async def test_relative_links_inside_the_package_are_kept(suite: Running) -> None:
    """As Lambda keeps them: node_modules/.bin and shared libraries use them."""
    zip_file = package(
        ("lib/helper.py", "ANSWER = 42\n", FILE),
        link("helper.py", "lib/helper.py"),
        link("lib/self", "../lib"),
        ("run.sh", "#!/bin/sh\n", stat.S_IFREG | 0o750),
    )
    source = (
        "import os, helper\n"
        "def handler(event, context):\n"
        "    return {'answer': helper.ANSWER, 'link': os.readlink('helper.py'),\n"
        "            'mode': oct(os.stat('run.sh').st_mode & 0o7777)}\n"
    )
    await suite.client.create_function(
        function_name="linked",
        runtime="python3.11",
        handler="main.handler",
        zip_file=_rezip(zip_file, "main.py", source),
    )
    response = await suite.client.invoke("linked", b"{}")
    # Made readable to the sandbox's user, which is not the files' owner (SECURITY.md).
    assert response["Payload"] == b'{"answer": 42, "link": "lib/helper.py", "mode": "0o755"}'


def _rezip(zip_file: bytes, name: str, source: str) -> bytes:
    buffer = io.BytesIO(zip_file)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr(name, source)
    return buffer.getvalue()


# --- the Executor's unpack, given a bad package directly (as if the store held one) -------------


def _tree(root: Path) -> dict[str, int]:
    """Every path under ``root`` with its mode, links not followed."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            found[os.path.relpath(path, root)] = os.lstat(path).st_mode
    return found


@pytest.mark.parametrize(("zip_file", "problem"), UNSAFE.values(), ids=UNSAFE.keys())
def test_unpack_refuses_an_unsafe_package_and_touches_nothing(
    tmp_path: Path, zip_file: bytes, problem: str
) -> None:
    outside = tmp_path / "outside.sh"
    outside.write_text("#!/bin/sh\n")
    outside.chmod(0o600)
    before = _tree(tmp_path)
    with pytest.raises(UnsafePackageError) as raised:
        _unpack(zip_file, tmp_path / "code" / "abc")
    assert str(raised.value) == problem
    assert _tree(tmp_path) == {**before, "code": _tree(tmp_path)["code"]}
    assert list((tmp_path / "code").iterdir()) == []
    assert stat.S_IMODE(outside.stat().st_mode) == 0o600


def test_unpack_chmods_by_the_safe_path_only(tmp_path: Path) -> None:
    """The original bug: chmod on the raw entry name made a file outside mode 0777. An
    absolute name that points at a real file outside is refused before anything is written."""
    outside = tmp_path / "victim.sh"
    outside.write_text("#!/bin/sh\n")
    outside.chmod(0o600)
    bad = package((str(outside), "#!/bin/sh\n", stat.S_IFREG | 0o777))
    with pytest.raises(UnsafePackageError):
        _unpack(bad, tmp_path / "code" / "abc")
    assert stat.S_IMODE(outside.stat().st_mode) == 0o600
    assert outside.read_text() == "#!/bin/sh\n"


def test_unpack_keeps_inside_links_and_makes_files_readable(tmp_path: Path) -> None:
    """Modes become 0644, 0755 for executables: the sandbox reads its code as another user."""
    target = tmp_path / "code" / "abc"
    _unpack(
        package(
            ("bin/tool", "#!/bin/sh\n", stat.S_IFREG | 0o755),
            ("lib/data.txt", "data", stat.S_IFREG | 0o600),
            link("data.txt", "lib/data.txt"),
            link("bin/lib", "../lib"),
        ),
        target,
    )
    assert stat.S_IMODE((target / "bin/tool").stat().st_mode) == 0o755
    assert stat.S_IMODE((target / "lib/data.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((target / "lib").stat().st_mode) == 0o755
    assert stat.S_IMODE(target.stat().st_mode) == 0o700  # until its sandboxes' group opens it
    assert os.readlink(target / "data.txt") == "lib/data.txt"
    assert (target / "bin/lib/data.txt").read_text() == "data"
    assert (target / "index.py").read_text() == HANDLER


def test_every_small_package_of_links_is_refused_or_stays_inside(tmp_path: Path) -> None:
    """The link check against the kernel: for every pair of links over a small alphabet of names
    and targets (with a real directory ``d``), either the package is refused or every link, as
    the kernel resolves it after unpacking, stays inside the code directory."""
    names = ["a", "b", "d/a"]
    targets = [".", "..", "a", "b", "d", "../a", "d/..", "a/..", "b/..", "../..", "d/../..", "a/b"]
    entries = [link(name, target) for name in names for target in targets]
    refused = kept = 0
    for first in entries:
        for second in entries:
            if first[0] == second[0]:
                continue
            zip_file = package(("d/f", "x", FILE), first, second)
            target = tmp_path / f"code-{refused + kept}"
            try:
                _unpack(zip_file, target)
            except UnsafePackageError:
                refused += 1
                continue
            kept += 1
            root = os.path.realpath(target)
            for name in (first[0], second[0]):
                resolved = os.path.realpath(target / name)
                assert resolved == root or resolved.startswith(root + os.sep), (first, second)
    assert refused and kept
