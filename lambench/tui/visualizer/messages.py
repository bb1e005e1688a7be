"""What the visualizer's workers hand back to its screen: typed messages, posted from worker threads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.message import Message

from lambench.core.backends.base import InvokeOutcome, MetricsSummary
from lambench.core.load import LoadReport


@dataclass
class VisualizerLoadFinished(Message):
    """A load ran to its end (or was stopped and drained)."""

    report: LoadReport


@dataclass
class VisualizerLoadRefused(Message):
    """A load could not start: the dry run failed (unknown qualifier, bad payload); one line."""

    error: str


@dataclass
class VisualizerSettingApplied(Message):
    """Reserved, provisioned concurrency or memory changed; `qualifier` is where provisioned went."""

    text: str
    qualifier: str | None = None


@dataclass
class VisualizerSettingFailed(Message):
    """A setting was refused; `error` is one line."""

    error: str


@dataclass
class VisualizerExported(Message):
    """The window was written to these files."""

    paths: list[Path]


@dataclass
class VisualizerExportFailed(Message):
    """The export could not be written; `error` is one line."""

    error: str


@dataclass
class VisualizerTailNotice(Message):
    """The visualizer's log tail has something to say (`reconnecting in 4 s: ...`)."""

    text: str


@dataclass
class VisualizerTailFailed(Message):
    """The visualizer's log tail gave up (access denied, no such function); one line."""

    error: str


@dataclass
class VisualizerMetricsRead(Message):
    """CloudWatch metrics of the function, read at `read_at` (seconds since the epoch)."""

    summary: MetricsSummary
    read_at: float


@dataclass
class VisualizerMetricsFailed(Message):
    """The metrics could not be read; one line."""

    error: str


@dataclass
class VisualizerInvoked(Message):
    """An invoke sent from the visualizer to a real account came back."""

    outcome: InvokeOutcome


@dataclass
class VisualizerInvokeFailed(Message):
    """The account refused an invoke sent from the visualizer; one line."""

    error: str
