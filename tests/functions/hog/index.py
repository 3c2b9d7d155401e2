"""Touches ``event["mb"]`` MB of memory (resident, not just reserved), then returns."""


def handler(event, context):
    size = int(event.get("mb", 0)) * 1024 * 1024
    data = b"x" * size  # written byte by byte: resident at once
    return {"allocated": len(data), "memory": context.memory_limit_in_mb}
