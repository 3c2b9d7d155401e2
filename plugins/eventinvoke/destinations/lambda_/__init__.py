"""The ``lambda`` destination: the record becomes the event of an asynchronous invocation of the
target function, so the target's own retries and destinations apply (docs/aws-behaviour.md §4.2).

A function of this suite (the ARN's region and account are the Router's) is invoked through the
suite's own Invoker. A function elsewhere is invoked with AWS Lambda's ``Invoke``
(``InvocationType=Event``) when a remote Lambda is configured: ``remote_endpoint_url`` in
``[destinations.lambda]``, ``remote = true`` there (the SDK's own endpoint: real AWS, or
``AWS_ENDPOINT_URL``), or the SDK's ``AWS_ENDPOINT_URL_LAMBDA`` variable. Without one, a foreign
ARN goes to our Invoker, which answers ``ResourceNotFoundException`` (a permanent failure).
The other AWS client settings of ``eventinvoke.destinations._aws`` apply to the remote client.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from eventinvoke.client import errors
from eventinvoke.destinations._aws import AWS_SETTINGS, Arn, AwsClients, classify
from eventinvoke.router.plugin import (
    DEAD_LETTER,
    Delivery,
    PermanentDeliveryError,
    RetryableDeliveryError,
    RouterContext,
    hookimpl,
)

# Errors that will not pass on a retry: the target is gone or refuses the payload.
PERMANENT = (
    errors.ResourceNotFoundException,
    errors.InvalidParameterValueException,
    errors.InvalidRequestContentException,
    errors.RequestEntityTooLargeException,
    errors.ValidationException,
)

# The AWS SDK's own variable for a Lambda endpoint (botocore reads it for the client, too).
SDK_LAMBDA_ENDPOINT = "AWS_ENDPOINT_URL_LAMBDA"
MAXIMUM_EVENT_AGE = 21600.0  # seconds: the longest MaximumEventAgeInSeconds AWS allows


def remote_configured(settings: Mapping[str, Any], environ: Mapping[str, str]) -> bool:
    """Whether functions outside this suite are invoked on a remote AWS Lambda."""
    remote = settings.get("remote", False)
    if isinstance(remote, str):
        remote = remote.lower() in {"1", "true", "yes"}
    return bool(settings.get("remote_endpoint_url") or remote or environ.get(SDK_LAMBDA_ENDPOINT))


class LambdaDestination:
    name = "lambda"

    def __init__(self, context: RouterContext, environ: Mapping[str, str] | None = None) -> None:
        self.context = context
        settings = context.settings_for("lambda", (*AWS_SETTINGS, "remote", "remote_endpoint_url"))
        self.remote = remote_configured(settings, os.environ if environ is None else environ)
        self.clients = AwsClients(
            "lambda",
            settings,
            context.partition.region,
            endpoint_url=settings.get("remote_endpoint_url") or None,
        )

    def claims(self, target: str) -> bool:
        """Functions of this suite; functions elsewhere only when a remote Lambda is set up."""
        parts = target.split(":")
        is_function = (
            len(parts) >= 7
            and parts[0] == "arn"
            and parts[2] == "lambda"
            and parts[5] == "function"
        )
        return is_function and (self.remote or self.is_ours(target))

    def is_ours(self, target: str) -> bool:
        arn = Arn.parse(target)
        partition = self.context.partition
        return arn is None or (arn.region, arn.account) == (partition.region, partition.account)

    async def deliver(self, delivery: Delivery) -> None:
        if delivery.kind == DEAD_LETTER:
            raise PermanentDeliveryError("a function cannot be a dead-letter queue")
        payload = delivery.record.to_json().encode()
        if self.remote and not self.is_ours(delivery.target):
            await self._invoke_remote(delivery.target, payload)
            return
        try:
            await self.context.invoker.invoke(
                function_name=delivery.target,
                payload=payload,
                invocation_type="Event",
                lineage=delivery.record.next_lineage,  # the record's chain goes on
            )
        except PERMANENT as error:
            raise PermanentDeliveryError(f"{error.code}: {error}") from error
        except errors.EventInvokeError as error:  # throttled, unavailable, internal: may pass
            # The suite's own Invoker, restarting or briefly unreachable: keep trying for as
            # long as AWS keeps an event (its longest maximum event age), not a few attempts.
            until = delivery.record.timestamp.timestamp() + MAXIMUM_EVENT_AGE
            raise RetryableDeliveryError(str(error), until=until) from error

    async def _invoke_remote(self, target: str, payload: bytes) -> None:
        arn = Arn.parse(target)
        assert arn is not None
        try:
            client = await self.clients.get(arn.region or None)
            response = await client.invoke(
                FunctionName=target, InvocationType="Event", Payload=payload
            )
        except Exception as error:
            raise classify(target, error) from error
        status = response.get("StatusCode")
        if status != 202:
            raise RetryableDeliveryError(f"{target}: Invoke answered {status}, not 202")

    async def close(self) -> None:
        await self.clients.close()


@hookimpl
def register_destinations(register, context: RouterContext) -> None:  # type: ignore[no-untyped-def]
    register(LambdaDestination(context))
