"""The visualizer screen (`v`): environments on a timeline, concurrency, figures and the load panel.

`screen` is the screen itself, with two mixins: `real_account` (its log tail, metrics and invoke
on a real account) and `export` (the window written out). `view` turns a timeline snapshot into
rows and axes, `widgets` draws them, `account` follows a real account's logs and metrics,
`actions` applies the load panel's settings, `metrics` shows CloudWatch's figures and `messages`
carries worker results.
"""

from lambench.tui.visualizer.screen import VisualizerScreen

__all__ = ["VisualizerScreen"]
