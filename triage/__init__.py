"""Triage: clear your queue of Marketing Qualified Leads at keyboard speed."""

__version__ = "0.1.0"
