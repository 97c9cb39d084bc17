"""The server's services, one concern each, composed into `Backend` (triage.server.service)."""
