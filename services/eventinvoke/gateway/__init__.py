"""The gateway: AWS Lambda's REST API over HTTP, served by the Invoker's gRPC API.

``eventinvoke up`` serves it on ``--http-listen`` (127.0.0.1:9001), so
``aws lambda invoke --endpoint-url http://127.0.0.1:9001 ...`` and boto3 work unchanged;
``eventinvoke serve gateway --invoker-endpoint HOST:PORT`` runs it alone.
"""

from eventinvoke.gateway.app import Gateway, create_app

__all__ = ["Gateway", "create_app"]
