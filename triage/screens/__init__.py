"""Screens of the Triage TUI: queue, lead detail, reason picker, conflicts, help."""
