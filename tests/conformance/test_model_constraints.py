"""Every constraint the model states, enforced on the wire in AWS's words: one sample request per
constraint (``api.samples``), through the gRPC client and through boto3 against the gateway.

The message each must carry is the validator's for the sample's params; ``api/test_constraints``
pins that wording against AWS's. Nothing a refused request names may change: these requests
all fail before the domain runs.
"""

from __future__ import annotations

import pytest
from api.samples import Sample, samples
from botocore.exceptions import ClientError
from gateway.harness import GatewaySuite

from eventinvoke.api import codec
from eventinvoke.api.constraints import problems, validation_message
from eventinvoke.api.model import lambda_model
from eventinvoke.client import ServiceError
from eventinvoke.client._operations import request

SAMPLES = samples()
# Through the gateway: AWS's operations, except an empty value in the URL's path, which makes
# another path (AWS answers those as an unknown operation too).
HTTP_SAMPLES = [
    sample
    for sample in samples(aws_only=True)
    if not (sample.params_in_uri() and sample.constraint == "min")
]


def _seen_by_the_server(sample: Sample) -> list[str]:
    """The problems of the request the gRPC client sends: proto3 cannot carry an empty string,
    a zero or an unknown enum value, so those samples reach the server as "not given"."""
    try:
        message = request(sample.operation, sample.params)
    except Exception:  # the client refuses it itself (an enum value it cannot encode)
        return []
    shape = lambda_model().operation(sample.operation).input
    assert shape is not None
    return problems(sample.operation, codec.to_dict(message, shape))


def test_the_walk_samples_every_kind_of_constraint() -> None:
    kinds = {sample.constraint for sample in SAMPLES}

    assert kinds == {"pattern", "min", "max", "enum", "key"}
    assert len(SAMPLES) > 50


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda sample: sample.id)
def test_grpc_refuses_each_constraint_in_awss_words(gateway: GatewaySuite, sample: Sample) -> None:
    seen = _seen_by_the_server(sample)
    if not seen:
        # Not expressible in proto3: the HTTP test below covers it for AWS's operations.
        assert sample.constraint in ("min", "enum"), sample
        return

    with pytest.raises(ServiceError) as raised:
        gateway.client.call(sample.operation, sample.params)

    assert raised.value.code == "ValidationException"
    assert raised.value.message == validation_message(seen)


@pytest.mark.parametrize("sample", HTTP_SAMPLES, ids=lambda sample: sample.id)
def test_the_gateway_refuses_each_constraint_in_awss_words(
    gateway: GatewaySuite, sample: Sample
) -> None:
    client = gateway.boto3_lambda(parameter_validation=False)

    with pytest.raises(ClientError) as raised:
        getattr(client, codec.snake(sample.operation))(**sample.params)

    error = raised.value.response
    assert error["Error"]["Code"] == "ValidationException"
    assert error["Error"]["Message"] == validation_message(sample.expected())
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
