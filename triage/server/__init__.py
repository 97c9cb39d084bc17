"""The shared backend: `triage server ...`. Imported only by server commands and the demo."""
