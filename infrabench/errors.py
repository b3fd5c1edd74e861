"""Errors the CLI reports as one line on stderr with exit code 2 (bad input or harness error)."""


class UsageError(Exception):
    """Bad input from the user: a path that does not exist, an unreadable file, a bad option value."""
