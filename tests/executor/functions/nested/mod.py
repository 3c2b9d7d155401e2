"""A handler in a sub-package, reached as ``nested/mod.handler``."""


def handler(event, context):
    return "nested"
