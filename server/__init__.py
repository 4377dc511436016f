"""The web process around the dashboard: the ingest endpoint, CLI commands, background work."""
