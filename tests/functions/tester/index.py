"""Lambda Destinations tester (the 2019 announcement's function, in Python).

Success returns nothing (the record's responsePayload is null); failure raises.
"""

import datetime
import json


def handler(event, context):
    print("Event received at: " + datetime.datetime.now(datetime.UTC).isoformat())
    print("Received event:", json.dumps(event, indent=2))
    if event.get("Success"):
        print("Success")
        return None
    print("Failure")
    raise Exception("Failure from event, Success = false, I am failing!")
