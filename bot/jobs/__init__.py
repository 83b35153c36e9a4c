"""The job engine: store, service, schedule, poller, sweep and delivery. It imports nothing of
Discord; what it hands out goes through `frontend.Frontend` (see docs/architecture.md)."""
