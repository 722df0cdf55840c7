"""Salesforce → Tether (pull: audit, interval, deletions, fields; real-time webhook) and,
later, Tether → Salesforce (push)."""
