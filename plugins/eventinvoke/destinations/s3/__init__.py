"""The ``s3`` destination: failure records to an S3 bucket (docs/aws-behaviour.md §4.2, §2.3).

``PutObject`` of the record JSON at
``aws/lambda/async/<function-name>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>``: no extension, the
record's timestamp in UTC, dots in the time part. The uuid is the delivery's own id (random, and
stable across the Router's retries, so a retried upload overwrites rather than duplicates).

S3 is OnFailure only: the Invoker refuses a bucket as OnSuccess when the config is put, and this
adapter refuses anything else it is handed. The bucket's region is not in its ARN: the client
uses ``region_name`` from ``[destinations.s3]``, else the SDK's region (``AWS_REGION``), else
the Router's. A missing bucket or access denied is a permanent failure; throttling
(``SlowDown``) and 5xx are retried by the Router.
"""

from __future__ import annotations

import uuid
from datetime import UTC

from eventinvoke.destinations._aws import AWS_SETTINGS, Arn, AwsClients, classify
from eventinvoke.router.plugin import (
    ON_FAILURE,
    Delivery,
    ExecutionRecord,
    PermanentDeliveryError,
    RouterContext,
    hookimpl,
)


def object_key(record: ExecutionRecord, unique: str) -> str:
    """``aws/lambda/async/<fn>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>``."""
    function_name = record.function_arn.split(":")[6]
    moment = record.timestamp.astimezone(UTC)
    return f"aws/lambda/async/{function_name}/{moment:%Y/%m/%d}/{moment:%Y-%m-%dT%H.%M.%S}-{unique}"


def _uuid(delivery_id: str) -> str:
    """The delivery id when it is a uuid (it is, from our outboxes); else one derived from it."""
    try:
        return str(uuid.UUID(delivery_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, delivery_id))


class S3Destination:
    name = "s3"

    def __init__(self, context: RouterContext) -> None:
        self.clients = AwsClients(
            "s3", context.settings_for("s3", AWS_SETTINGS), context.partition.region
        )

    def claims(self, target: str) -> bool:
        arn = Arn.parse(target)
        return arn is not None and arn.service == "s3" and bool(arn.resource)

    async def deliver(self, delivery: Delivery) -> None:
        if delivery.kind != ON_FAILURE:
            raise PermanentDeliveryError(
                f"{delivery.target}: an S3 bucket can only be an OnFailure destination"
            )
        arn = Arn.parse(delivery.target)
        assert arn is not None
        bucket = arn.resource.split("/", 1)[0]
        try:
            client = await self.clients.get()
            await client.put_object(
                Bucket=bucket,
                Key=object_key(delivery.record, _uuid(delivery.delivery_id)),
                Body=delivery.record.to_json().encode(),
                ContentType="application/json",
            )
        except Exception as error:
            raise classify(delivery.target, error) from error

    async def close(self) -> None:
        await self.clients.close()


@hookimpl
def register_destinations(register, context: RouterContext) -> None:  # type: ignore[no-untyped-def]
    register(S3Destination(context))
