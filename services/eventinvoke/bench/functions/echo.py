"""The function under test: returns its event, so the cost measured is the platform's."""


def handler(event, context):  # type: ignore[no-untyped-def]
    return event
