"""Aliases: a name that points at one version of a function, with AWS's messages (requests
reach it checked against the model).

Weighted aliases (``RoutingConfig``) are not modelled: an alias points at exactly one version.
The HTTP gateway refuses a RoutingConfig with weights; the gRPC API has no field for one.
"""

from __future__ import annotations

import uuid

from eventinvoke.backends.base import FunctionStore
from eventinvoke.core.arn import Partition
from eventinvoke.core.errors import ResourceConflictException, ResourceNotFoundException
from eventinvoke.core.model import LATEST, Alias
from eventinvoke.invoker.functions import paginate


class Aliases:
    def __init__(self, store: FunctionStore, partition: Partition) -> None:
        self.store = store
        self.partition = partition

    def arn(self, alias: Alias) -> str:
        return self.partition.function_arn(alias.function_name, alias.name)

    async def create(
        self, function_name: str, name: str, function_version: str, description: str = ""
    ) -> Alias:
        ref = self.partition.parse(function_name)
        await self._require_version(ref.name, function_version)
        alias = Alias(
            function_name=ref.name,
            name=name,
            function_version=function_version,
            description=description,
            revision_id=str(uuid.uuid4()),
        )
        if not await self.store.create_alias(alias):
            raise ResourceConflictException(f"Alias already exists: {self.arn(alias)}")
        return alias

    async def get(self, function_name: str, name: str) -> Alias:
        ref = self.partition.parse(function_name)
        await self._require_function(ref.name)
        alias = await self.store.get_alias(ref.name, name)
        if alias is None:
            raise self._no_alias(ref.name, name)
        return alias

    async def update(
        self,
        function_name: str,
        name: str,
        function_version: str | None = None,
        description: str | None = None,
    ) -> Alias:
        current = await self.get(function_name, name)
        if function_version is not None:
            await self._require_version(current.function_name, function_version)
        alias = Alias(
            function_name=current.function_name,
            name=current.name,
            function_version=current.function_version
            if function_version is None
            else function_version,
            description=current.description if description is None else description,
            revision_id=str(uuid.uuid4()),
        )
        await self.store.update_alias(alias)
        return alias

    async def delete(self, function_name: str, name: str) -> None:
        """Also removes the alias's event invoke config. Events already queued through the
        alias are dropped when they come up (their qualifier no longer resolves)."""
        ref = self.partition.parse(function_name)
        await self._require_function(ref.name)
        if not await self.store.delete_alias(ref.name, name):
            raise self._no_alias(ref.name, name)

    async def list(
        self,
        function_name: str,
        function_version: str | None,
        marker: str | None,
        max_items: int | None,
    ) -> tuple[list[Alias], str | None]:
        ref = self.partition.parse(function_name)
        await self._require_function(ref.name)
        aliases = [
            alias
            for alias in await self.store.list_aliases(ref.name)
            if not function_version or alias.function_version == function_version
        ]
        return paginate(aliases, marker, max_items or 50)

    async def _require_function(self, name: str) -> None:
        if await self.store.get_function(name, LATEST) is None:
            raise ResourceNotFoundException(
                f"Function not found: {self.partition.function_arn(name)}"
            )

    async def _require_version(self, name: str, version: str) -> None:
        if await self.store.get_function(name, version) is None:
            raise ResourceNotFoundException(
                f"Function not found: {self.partition.function_arn(name, version)}"
            )

    def _no_alias(self, function_name: str, name: str) -> ResourceNotFoundException:
        arn = self.partition.function_arn(function_name, name)
        return ResourceNotFoundException(f"Cannot find alias arn: {arn}")
