"""Function management: create, read, list, update, delete — with AWS's validation."""

from __future__ import annotations

import base64
import builtins
import dataclasses
import hashlib
import io
import json
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from eventinvoke.api.model import lambda_model
from eventinvoke.backends.base import FunctionStore, resolve_qualifier
from eventinvoke.core.arn import FunctionRef, Partition
from eventinvoke.core.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    RequestEntityTooLargeException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from eventinvoke.core.model import (
    LATEST,
    RECURSIVE_LOOP_TERMINATE,
    FunctionConfig,
    is_version_number,
)
from eventinvoke.core.packaging import unsafe_entry

# What the model enumerates and bounds (the request is checked against it before it gets here).
RUNTIMES: list[str] = lambda_model().shape("Runtime")["enum"]
_MEMORY = lambda_model().shape("MemorySize@CreateFunctionRequest.MemorySize")
MIN_MEMORY, MAX_MEMORY = int(_MEMORY["min"]), int(_MEMORY["max"])
MAX_TIMEOUT = 900  # Lambda's limit; the model allows more, as InvalidParameterValue here
# Lambda's limit on a deployment package's unzipped size; checked before anything is unzipped,
# so a small zip that would unpack to gigabytes is refused unread.
CODE_SIZE_UNZIPPED = 262_144_000
# Lambda's limit on a package uploaded directly (50 MB zipped), which AWS states as the size of
# the request that carries it base64-encoded: 52428800 bytes take 69905068 characters.
CODE_REQUEST_LIMIT = 69_905_067
# Lambda's limit on a function's environment variables, measured as their JSON object.
MAX_ENVIRONMENT_BYTES = 4096
MIN_UNRESERVED = 0
# What zipfile raises on hostile bytes: besides BadZipFile, an encrypted entry (RuntimeError), an
# unknown compression method (NotImplementedError), a truncated or corrupt stream (EOFError,
# zlib.error, and OSError or ValueError from the decompressors).
UNREADABLE_ZIP = (
    zipfile.BadZipFile,
    ValueError,
    RuntimeError,
    NotImplementedError,
    EOFError,
    OSError,
    zlib.error,
)  # AWS: 100; see Functions.put_concurrency


@dataclass(frozen=True)
class FunctionChanges:
    """What UpdateFunctionConfiguration may change; ``None`` leaves a field as it is."""

    timeout: int | None = None
    memory_size: int | None = None
    environment: dict[str, str] | None = None
    handler: str | None = None
    runtime: str | None = None
    role: str | None = None
    description: str | None = None
    dead_letter_target_arn: str | None = None  # "" removes it


@dataclass(frozen=True)
class AccountSettings:
    """GetAccountSettings: the limits enforced here, and what is in use."""

    code_size_unzipped: int
    concurrent_executions: int
    unreserved_concurrent_executions: int
    total_code_size: int  # of every function and version
    function_count: int


class Functions:
    """The function registry, over a FunctionStore."""

    def __init__(
        self, store: FunctionStore, partition: Partition, concurrency_limit: int = 1000
    ) -> None:
        self.store = store
        self.partition = partition
        # The account's concurrency limit (the executor's max_sandboxes): reservations of all
        # functions together may not exceed it.
        self.concurrency_limit = concurrency_limit

    async def create(
        self,
        name: str,
        runtime: str,
        handler: str,
        zip_file: bytes,
        *,
        role: str = "",
        timeout: int | None = None,  # noqa: ASYNC109 (the function's Timeout, not ours)
        memory_size: int | None = None,
        environment: dict[str, str] | None = None,
        description: str = "",
        dead_letter_target_arn: str | None = None,
        publish: bool = False,
    ) -> FunctionConfig:
        """CreateFunction; with ``publish``, version 1 is published and returned."""
        _check(timeout, dead_letter_target_arn, environment)
        _check_zip(zip_file, "CreateFunction")
        sha = base64.b64encode(hashlib.sha256(zip_file).digest()).decode()
        function = FunctionConfig(
            name=name,
            arn=self.partition.function_arn(name),
            runtime=runtime,
            handler=handler,
            code_sha256=sha,
            code_size=len(zip_file),
            role=role,
            timeout=timeout or 3,
            memory_size=memory_size or 128,
            environment=dict(environment or {}),
            description=description,
            dead_letter_target_arn=dead_letter_target_arn or None,
            last_modified=_now_aws(),
            revision_id=str(uuid.uuid4()),
        )
        await self.store.put_code(sha, zip_file)
        if not await self.store.create_function(function):
            raise ResourceConflictException(f"Function already exist: {name}")
        if publish:
            return await self._publish(function)
        return function

    async def resolve(self, ref: FunctionRef, *, invoke: bool = False) -> FunctionConfig:
        """The configuration a name runs, or AWS's "Function not found" error.

        The qualifier is $LATEST (also when absent), a version number, or an alias, which
        resolves to the version it points at now. The qualifier as invoked stays in ``ref``.
        For Invoke (``invoke``), the error's ARN always carries a qualifier, $LATEST when none
        was given, as AWS's does (docs/aws-behaviour.md §1.4).
        """
        function = await resolve_qualifier(self.store, ref.name, ref.qualifier)
        if function is None:
            shown = ref.resolved_qualifier if invoke else ref.qualifier
            raise ResourceNotFoundException(
                f"Function not found: {self.partition.function_arn(ref.name, shown)}"
            )
        return function

    async def get(self, function_name: str, qualifier: str | None = None) -> FunctionConfig:
        return await self.resolve(self.partition.parse(function_name, qualifier))

    async def list(
        self, marker: str | None, max_items: int | None
    ) -> tuple[list[FunctionConfig], str | None]:
        return await self.store.list_functions(marker or None, max_items or 50)

    async def update(self, function_name: str, changes: FunctionChanges) -> FunctionConfig:
        ref = self.partition.parse(function_name)
        _check(changes.timeout, changes.dead_letter_target_arn, changes.environment)
        current = await self.resolve(FunctionRef(ref.name))
        updates = {k: v for k, v in dataclasses.asdict(changes).items() if v is not None}
        if "dead_letter_target_arn" in updates:
            updates["dead_letter_target_arn"] = updates["dead_letter_target_arn"] or None
        function = dataclasses.replace(
            current, **updates, last_modified=_now_aws(), revision_id=str(uuid.uuid4())
        )
        await self.store.update_function(function)
        return function

    async def put_concurrency(self, function_name: str, reserved: int | None) -> int:
        """PutFunctionConcurrency: reserve ``reserved`` of the account's concurrency (the
        request was checked: it is given, and not negative)."""
        assert reserved is not None
        function = await self.resolve(FunctionRef(self.partition.parse(function_name).name))
        # AWS keeps 100 unreserved; here the whole limit may be reserved (minimum 0), since a
        # laptop's limit is small. Unreserved functions then only get capacity left idle.
        others = await self.store.reserved_concurrency_total(excluding=function.name)
        if others + reserved > self.concurrency_limit:
            raise InvalidParameterValueException(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
            )
        await self.store.put_function_concurrency(function.name, reserved)
        return reserved

    async def get_concurrency(self, function_name: str) -> int | None:
        """GetFunctionConcurrency: the reservation, None when there is none."""
        function = await self.resolve(FunctionRef(self.partition.parse(function_name).name))
        return function.reserved_concurrent_executions

    async def delete_concurrency(self, function_name: str) -> None:
        """DeleteFunctionConcurrency: back to the unreserved pool."""
        function = await self.resolve(FunctionRef(self.partition.parse(function_name).name))
        await self.store.put_function_concurrency(function.name, None)

    async def put_recursion_config(self, function_name: str, recursive_loop: str) -> str:
        """PutFunctionRecursionConfig: whether the function's invocations are stopped past the
        limit of a chain (the request was checked: the value is one of the model's)."""
        ref = FunctionRef(self.partition.parse(function_name).name)
        function = await self.resolve(ref)
        if not await self.store.put_recursion_config(function.name, recursive_loop):
            await self.resolve(ref)  # deleted meanwhile: answer as for a missing function
        return recursive_loop

    async def get_recursion_config(self, function_name: str) -> str:
        """GetFunctionRecursionConfig: Terminate, AWS's default, when never set."""
        function = await self.resolve(FunctionRef(self.partition.parse(function_name).name))
        setting = await self.store.get_recursion_config(function.name)
        return setting or RECURSIVE_LOOP_TERMINATE

    async def delete(self, function_name: str, qualifier: str | None = None) -> None:
        """DeleteFunction: the whole function, or with a qualifier one published version."""
        ref = self.partition.parse(function_name, qualifier)
        if ref.qualifier is None:
            if not await self.store.delete_function(ref.name):
                raise ResourceNotFoundException(
                    f"Function not found: {self.partition.function_arn(ref.name)}"
                )
            return
        if ref.qualifier == LATEST:
            raise InvalidParameterValueException(
                "$LATEST version cannot be deleted without deleting the function."
            )
        missing = ResourceNotFoundException(
            f"Function not found: {self.partition.function_arn(ref.name, ref.qualifier)}"
        )
        # Only a version can be deleted this way; an alias name is not a version of the function.
        if not is_version_number(ref.qualifier):
            raise missing
        if await self.store.get_function(ref.name, ref.qualifier) is None:
            raise missing
        referencing = [
            alias.name
            for alias in await self.store.list_aliases(ref.name)
            if alias.function_version == ref.qualifier
        ]
        if referencing:
            raise ResourceConflictException(
                "Unable to delete version because the following aliases reference it: "
                f"[{', '.join(referencing)}]"
            )
        if not await self.store.delete_version(ref.name, ref.qualifier):
            raise missing

    async def publish_version(
        self,
        function_name: str,
        description: str | None = None,
        code_sha256: str | None = None,
        revision_id: str | None = None,
    ) -> FunctionConfig:
        """PublishVersion: snapshot $LATEST as the next version (or return the latest version
        when nothing changed since). The event invoke configs are not copied
        (docs/aws-behaviour.md §2.2)."""
        ref = self.partition.parse(function_name)
        latest = await self.resolve(FunctionRef(ref.name))
        if revision_id and revision_id != latest.revision_id:
            raise PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetFunction/GetAlias API to retrieve the latest Revision Id"
            )
        if code_sha256 and code_sha256 != latest.code_sha256:
            raise InvalidParameterValueException(
                f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in $LATEST "
                f"({latest.code_sha256}). Please try again with the CodeSHA256 in $LATEST."
            )
        return await self._publish(latest, description)

    async def _publish(
        self, latest: FunctionConfig, description: str | None = None
    ) -> FunctionConfig:
        version = await self.store.publish_version(
            latest.name, description or None, str(uuid.uuid4())
        )
        if version is None:  # deleted meanwhile
            raise ResourceNotFoundException(
                f"Function not found: {self.partition.function_arn(latest.name)}"
            )
        return version

    async def list_versions(
        self, function_name: str, marker: str | None, max_items: int | None
    ) -> tuple[builtins.list[FunctionConfig], str | None]:
        """ListVersionsByFunction: $LATEST, then the versions in order; the marker is an
        offset into that list."""
        ref = self.partition.parse(function_name)
        versions = await self.store.list_versions(ref.name)
        if not versions:
            raise ResourceNotFoundException(
                f"Function not found: {self.partition.function_arn(ref.name)}"
            )
        return paginate(versions, marker, max_items or 50)

    async def account_settings(self) -> AccountSettings:
        """GetAccountSettings. Usage is summed here from each function's versions: an
        operator's occasional question, not worth a query of its own in every backend."""
        names: builtins.list[str] = []
        marker: str | None = None
        while True:
            page, marker = await self.store.list_functions(marker, 1000)
            names += [function.name for function in page]
            if marker is None:
                break
        total = 0
        for name in names:  # a function deleted meanwhile has no versions: it adds nothing
            total += sum(version.code_size for version in await self.store.list_versions(name))
        reserved = await self.store.reserved_concurrency_total()
        return AccountSettings(
            code_size_unzipped=CODE_SIZE_UNZIPPED,
            concurrent_executions=self.concurrency_limit,
            unreserved_concurrent_executions=self.concurrency_limit - reserved,
            total_code_size=total,
            function_count=len(names),
        )

    def qualified_arn(self, function: FunctionConfig, qualifier: str | None = None) -> str:
        """A configuration's ARN qualified with ``qualifier`` (default: its own version)."""
        return self.partition.function_arn(function.name, qualifier or function.version)

    async def update_code(
        self, function_name: str, zip_file: bytes, publish: bool = False
    ) -> FunctionConfig:
        """UpdateFunctionCode: a new package for $LATEST; new sandboxes run it. With
        ``publish``, a version is published afterwards and returned."""
        ref = self.partition.parse(function_name)
        _check_zip(zip_file, "UpdateFunctionCode")
        current = await self.resolve(FunctionRef(ref.name))
        sha = base64.b64encode(hashlib.sha256(zip_file).digest()).decode()
        await self.store.put_code(sha, zip_file)
        function = dataclasses.replace(
            current,
            code_sha256=sha,
            code_size=len(zip_file),
            last_modified=_now_aws(),
            revision_id=str(uuid.uuid4()),
        )
        await self.store.update_function(function)
        if publish:
            return await self._publish(function)
        return function


_T = TypeVar("_T")


def paginate(items: list[_T], marker: str | None, limit: int) -> tuple[list[_T], str | None]:
    """One page of ``items`` from the offset ``marker``, and the next page's marker."""
    start = int(marker) if marker and marker.isdigit() else 0
    page = items[start : start + limit]
    return page, (str(start + limit) if start + limit < len(items) else None)


def _check(
    timeout: int | None,
    dead_letter_target_arn: str | None,
    environment: dict[str, str] | None = None,
) -> None:
    """What Lambda refuses beyond the model's constraints."""
    measured = json.dumps(environment or {}, separators=(",", ":"))
    if len(measured.encode()) > MAX_ENVIRONMENT_BYTES:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided exceeded the 4KB limit. String measured: "
            f"{measured[:100]}..."
        )
    if timeout is not None and timeout > MAX_TIMEOUT:
        raise InvalidParameterValueException(
            f"The timeout value {timeout} is invalid. "
            f"It must be between 1 and {MAX_TIMEOUT} seconds."
        )
    if dead_letter_target_arn and dead_letter_target_arn.split(":")[2:3] not in (["sqs"], ["sns"]):
        raise InvalidParameterValueException(
            "The provided target arn is invalid. Only SQS queues and SNS topics are supported "
            "as dead-letter targets."
        )


def _check_zip(zip_file: bytes, operation: str) -> None:
    """AWS's limits on a package, then ours: no entry may reach outside the code directory."""
    if _base64_size(len(zip_file)) > CODE_REQUEST_LIMIT:
        raise RequestEntityTooLargeException(
            f"Request must be smaller than {CODE_REQUEST_LIMIT} bytes for the {operation} operation"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(zip_file)) as archive:
            # Each member unzips to at most its declared size (zipfile stops there), so the
            # sum bounds what testzip() and unsafe_entry() will unpack.
            if sum(member.file_size for member in archive.infolist()) > CODE_SIZE_UNZIPPED:
                raise InvalidParameterValueException(
                    f"Unzipped size must be smaller than {CODE_SIZE_UNZIPPED} bytes"
                )
            if archive.testzip() is not None:
                raise zipfile.BadZipFile
            problem = unsafe_entry(archive)
    except UNREADABLE_ZIP:
        raise InvalidParameterValueException(
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        ) from None
    if problem is not None:
        raise InvalidParameterValueException(f"Unsafe deployment package: {problem}.")


def _base64_size(size: int) -> int:
    return 4 * -(-size // 3)


def _now_aws() -> str:
    """AWS's LastModified format: ``2019-11-24T23:08:25.651+0000``."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"


__all__ = ["Functions", "FunctionChanges", "RUNTIMES", "LATEST"]
