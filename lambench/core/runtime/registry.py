"""The service's functions: their configurations by name, their counters, and qualifier routing.

A qualifier (none, `$LATEST`, a version number or an alias) resolves here to the configuration and
version an invocation runs; an alias with a routing configuration picks its version per request.
"""

from __future__ import annotations

import random
import threading

from lambench.core.config import FunctionConfig
from lambench.core.record import record, replace
from lambench.core.runtime import errors
from lambench.core.runtime.versions import LATEST, VersionStore

#: The region named in a not-found error for a function lambench does not know at all.
_UNKNOWN_REGION = "us-east-1"
_UNPUBLISHED = "Provisioned Concurrency Configs cannot be applied to unpublished function versions."


@record
class FunctionStats:
    """What the service counted for one function since it started (the timeline must agree)."""

    invocations: int = 0
    cold_starts: int = 0
    errors: int = 0
    throttles: int = 0
    environments_created: int = 0


class FunctionRegistry:
    """Functions by name with their counters, and where published versions and aliases are kept.

    Thread-safe; its lock is never held while calling out, so any other lock may be held around it.
    """

    def __init__(self, versions: VersionStore, *, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._functions: dict[str, FunctionConfig] = {}
        self._stats: dict[str, FunctionStats] = {}
        self._random = random.Random(seed)
        self.versions = versions

    def put(self, config: FunctionConfig) -> None:
        """Add a function, or replace the one of the same name."""
        with self._lock:
            self._functions[config.name] = config
            self._stats.setdefault(config.name, FunctionStats())

    def renew(self, name: str, config: FunctionConfig | None = None) -> None:
        """Replace `name`'s configuration with `config`, or with a fresh copy of its own.

        A new object even when nothing changed: an environment goes back to the idle pool only
        while its function's configuration is the very one it started with (`is_current`).
        """
        with self._lock:
            current = self._functions.get(name)
            if current is None:
                raise errors.ResourceNotFoundError.for_function(_UNKNOWN_REGION, name, None)
            self._functions[name] = replace(config if config is not None else current)

    def remove(self, name: str) -> None:
        """Forget `name` (its counters stay), or ResourceNotFoundError."""
        with self._lock:
            if self._functions.pop(name, None) is None:
                raise errors.ResourceNotFoundError.for_function(_UNKNOWN_REGION, name, None)

    def get(self, name: str) -> FunctionConfig:
        """The configuration of `name` (unqualified), or ResourceNotFoundError."""
        with self._lock:
            config = self._functions.get(name)
        if config is None:
            raise errors.ResourceNotFoundError.for_function(_UNKNOWN_REGION, name, None)
        return config

    def all(self) -> list[FunctionConfig]:
        """Every function, in the order they were added."""
        with self._lock:
            return list(self._functions.values())

    def is_current(self, config: FunctionConfig) -> bool:
        """True while `config` is its function's $LATEST configuration (not replaced, not removed)."""
        return self._functions.get(config.name) is config

    # -- counters -------------------------------------------------------------------------------

    def stats(self, name: str) -> FunctionStats:
        """A copy of the counters of one function."""
        self.get(name)
        with self._lock:
            return replace(self._stats[name])

    def count_invocation(self, name: str, *, cold: bool, error: bool) -> None:
        """One invocation ran to its end."""
        with self._lock:
            stats = self._stats[name]
            stats.invocations += 1
            stats.cold_starts += cold
            stats.errors += error

    def count_throttle(self, name: str) -> None:
        """One invocation was throttled."""
        with self._lock:
            self._stats[name].throttles += 1

    def count_environment(self, name: str) -> None:
        """One environment was created."""
        with self._lock:
            self._stats[name].environments_created += 1

    # -- routing --------------------------------------------------------------------------------

    def resolve(self, name: str, qualifier: str | None) -> tuple[FunctionConfig, str]:
        """The configuration and version an invoke of `name:qualifier` runs (an alias picks by weight)."""
        with self._lock:
            config = self._functions.get(name)
        if config is None:
            raise errors.ResourceNotFoundError.for_function(_UNKNOWN_REGION, name, qualifier)
        if qualifier is None or qualifier == LATEST:
            return config, LATEST
        version = qualifier
        if not qualifier.isdigit():
            alias = self.versions.get_alias(name, qualifier)
            if alias is None:
                raise errors.ResourceNotFoundError.for_function(config.region, name, qualifier)
            version = alias.function_version
            if alias.weights:
                ((extra, weight),) = alias.weights.items()
                # One independent draw per request, as AWS routes (lambda-facts §10).
                with self._lock:
                    draw = self._random.random()
                if draw < weight:
                    version = extra
            if version == LATEST:
                return config, LATEST
        published = self.versions.get_version(name, version)
        if published is None:
            raise errors.ResourceNotFoundError.for_function(config.region, name, qualifier)
        return published.config, version

    def version_config(self, name: str, version: str) -> FunctionConfig:
        """The configuration of a published version, or ResourceNotFoundError."""
        published = self.versions.get_version(name, version)
        if published is None:
            raise errors.ResourceNotFoundError.for_function(_UNKNOWN_REGION, name, version)
        return published.config

    def provisioned_version(self, name: str, qualifier: str, *, for_put: bool = False) -> str:
        """The version a provisioned-concurrency configuration on `qualifier` serves (AWS's checks)."""
        config = self.get(name)
        # Texts recorded against AWS (LocalStack's snapshots of the provisioned-concurrency tests).
        if qualifier in ("", LATEST):
            raise errors.InvalidParameterValueError(
                _UNPUBLISHED
                if for_put
                else "The function resource provided must be an alias or a published version."
            )
        if qualifier.isdigit():
            if self.versions.get_version(name, qualifier) is None:
                raise errors.ResourceNotFoundError.for_function(config.region, name, qualifier)
            return qualifier
        alias = self.versions.require_alias(name, qualifier, config.region)
        if for_put and alias.function_version == LATEST:
            raise errors.InvalidParameterValueError(_UNPUBLISHED)
        if for_put and alias.weights:
            # From CloudFormation captures; the Developer Guide says PC cannot be managed on an alias
            # while it routes to two versions.
            raise errors.InvalidParameterValueError("Invalid alias configuration for Provisioned Concurrency")
        return alias.function_version
