"""``eventinvoke deploy``: apply a CloudFormation / SAM template's Lambda resources.

    from eventinvoke.deploy import deploy
    async with AsyncClient(address) as client:
        result = await deploy(client, Path("template.yaml"), overrides={"Env": "dev"})

A template is validated whole first (``plan.build`` and ``apply.preflight``): a
:class:`TemplateError` means nothing was changed. A :class:`DeployError` means the server refused
a step during apply and this run's changes were undone as far as it lists.
"""

from eventinvoke.deploy.apply import (
    DeployError,
    DeployResult,
    LambdaClient,
    ResourceResult,
    deploy,
    discover_partition,
)
from eventinvoke.deploy.plan import Plan, build
from eventinvoke.deploy.specs import SUPPORTED_TYPES
from eventinvoke.deploy.template import TemplateError, parse, parse_overrides

__all__ = [
    "SUPPORTED_TYPES",
    "DeployError",
    "DeployResult",
    "LambdaClient",
    "Plan",
    "ResourceResult",
    "TemplateError",
    "build",
    "deploy",
    "discover_partition",
    "parse",
    "parse_overrides",
]
