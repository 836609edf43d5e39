"""Conversation sessions: history, bounds, per-session serialisation, export and autosave.

Kept import-light: config.py imports `sessions.settings` on the daemon's start-up path.
"""
