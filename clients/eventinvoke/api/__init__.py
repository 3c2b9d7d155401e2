"""eventinvoke's API described once: AWS Lambda's service model for the AWS operations
(``model.py``, a vendored copy with our patches), the tables of every operation
(``operations.py``) and of every error (``errors.py``), and what is derived from them for every
consumer: request validation with AWS's messages (``constraints.py``) and the conversion between
protobuf messages and AWS-shaped dicts (``codec.py``). Pure Python: no grpc, no I/O; the server,
the gateway, the CLI and the clients all read it.
"""
