"""Hot reload: watch functions' code, layers and the template; recycle environments on real changes."""

from lambench.core.reload.watcher import HotReloader

__all__ = ["HotReloader"]
