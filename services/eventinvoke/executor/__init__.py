"""The Executor: leases events, applies the retry policy, runs functions in sandboxes."""
