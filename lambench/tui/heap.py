"""Garbage-collector policy for the interactive app.

Importing Textual, boto3 and moto builds a few hundred thousand long-lived objects. Left in the
collector's generations, every full collection walks them all again: tens of milliseconds with the
UI thread stopped, several times a second while logs flood in. The app pauses collection while it
starts, then moves what start-up built out of the collector's way (`gc.freeze`) once it is built.
"""

from __future__ import annotations

import gc


def pause_collection() -> None:
    """Stop cyclic collection until `settle` (start-up allocates much and frees little)."""
    gc.disable()


def settle() -> None:
    """Exclude every object alive now from later collections, and collect again.

    Called after the first paint and again once the backend is open: what exists then lives as
    long as the app. (Cyclic garbage alive at that moment is never freed; start-up makes little.)
    """
    gc.freeze()
    gc.enable()


def resume_collection() -> None:
    """Collect again, without freezing (the app has ended, or never painted)."""
    gc.enable()
