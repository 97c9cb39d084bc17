"""Sync with the server: `client` speaks HTTP, `engine` moves the outbox and the pulled pages."""
