"""Shared gRPC plumbing: one serve(), one error table, one logging setup, one settings loader."""
