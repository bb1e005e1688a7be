"""What the core's workers hand back to the UI: typed messages, posted from worker threads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from lambench.core.backends.base import Backend, FunctionSummary, InvokeOutcome


@dataclass
class BackendReady(Message):
    """The backend is open and its functions are listed."""

    backend: Backend
    functions: list[FunctionSummary]


@dataclass
class BackendFailed(Message):
    """The backend could not be opened (a bad template, no credentials); `error` is one line."""

    error: str


@dataclass
class InvokeFinished(Message):
    """An invoke came back; `event` is what was sent, `qualifier` what was named."""

    function: str
    qualifier: str | None
    event: str
    outcome: InvokeOutcome


@dataclass
class InvokeFailed(Message):
    """The service refused an invoke (throttled, unknown qualifier, invoke not allowed)."""

    function: str
    error: str
