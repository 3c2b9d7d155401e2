"""Queue and store backends: the embedded SQLite default, and NATS JetStream for scale-out."""
