"""The one base class of problems a user can fix: a setting, a dataset, a saved file.

``kedro run`` prints these as one short message without a traceback (see ``cli.py``); any
other exception is a bug and keeps its full traceback.
"""
from __future__ import annotations


class InputError(ValueError):
    """Bad input from the user's side: configuration, data, or a file the project reads."""
