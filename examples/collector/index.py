"""A destination function that prints every execution record it receives (see its log)."""

import json


def handler(event, context):
    print("EVENT", json.dumps(event))
    return {"received": event.get("requestContext", {}).get("requestId")}
