"""moto_server and the AWS SDK's variables pointing at it, for the integration tests that
deliver to AWS destinations (the fixtures of tests/destinations/conftest.py)."""

from destinations.conftest import aws, aws_environment  # noqa: F401
