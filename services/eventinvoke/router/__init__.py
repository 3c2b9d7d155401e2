"""The Router: a durable outbox and pluggable destination adapters."""
