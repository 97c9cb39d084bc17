"""Widgets of the Triage TUI: the virtual lead table, the BANT checklist, the status bar."""
