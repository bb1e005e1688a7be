"""Provisioned concurrency of one version or alias: the environments set aside for it and its status.

The service owns the threads that initialise the environments; this module only keeps the books.
It is not thread-safe: the service uses it while holding its lock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from lambench.core.runtime.environment import ExecutionEnvironment

IN_PROGRESS = "IN_PROGRESS"
READY = "READY"
FAILED = "FAILED"
#: StatusReason after an init failure (lambda-facts §9).
INIT_FAILURE = "FUNCTION_ERROR_INIT_FAILURE"


@dataclass(frozen=True)
class ProvisionedStatus:
    """The GetProvisionedConcurrencyConfig view of one configuration."""

    function: str
    qualifier: str
    requested: int
    available: int
    allocated: int
    status: str
    status_reason: str | None
    last_modified: str

    def to_json(self) -> dict[str, Any]:
        """The API response's fields."""
        data: dict[str, Any] = {
            "RequestedProvisionedConcurrentExecutions": self.requested,
            "AvailableProvisionedConcurrentExecutions": self.available,
            "AllocatedProvisionedConcurrentExecutions": self.allocated,
            "Status": self.status,
            "LastModified": self.last_modified,
        }
        if self.status_reason:
            data["StatusReason"] = self.status_reason
        return data


@dataclass
class ProvisionedPool:
    """The environments of one provisioned-concurrency configuration, by version."""

    function: str
    qualifier: str
    requested: int
    targets: dict[str, int]
    last_modified: str = field(default_factory=lambda: _timestamp())
    idle: dict[str, list[ExecutionEnvironment]] = field(default_factory=dict)
    members: dict[str, set[ExecutionEnvironment]] = field(default_factory=dict)
    initializing: dict[str, int] = field(default_factory=dict)
    failed: bool = False

    def next_version_to_fill(self) -> str | None:
        """A version that still needs an environment started, or None."""
        if self.failed:
            return None
        for version, target in self.targets.items():
            if len(self.members.get(version, ())) + self.initializing.get(version, 0) < target:
                return version
        return None

    def wants(self, version: str) -> bool:
        """True if one more ready environment of `version` is still needed."""
        return not self.failed and len(self.members.get(version, ())) < self.targets.get(version, 0)

    def add(self, version: str, env: ExecutionEnvironment) -> None:
        """A freshly initialised environment joins the pool, idle."""
        self.members.setdefault(version, set()).add(env)
        self.idle.setdefault(version, []).append(env)

    def take(self, version: str) -> ExecutionEnvironment | None:
        """An idle environment of `version`, or None when all are busy."""
        idle = self.idle.get(version)
        return idle.pop() if idle else None

    def give_back(self, env: ExecutionEnvironment) -> bool:
        """Return a busy environment; False if the pool no longer wants it (it must be retired)."""
        members = self.members.get(env.version, set())
        if env not in members:
            return False
        if env.retired or len(members) > self.targets.get(env.version, 0):
            members.discard(env)
            return False
        self.idle.setdefault(env.version, []).append(env)
        return True

    def drop(self, env: ExecutionEnvironment) -> None:
        """Forget an environment (it is being retired), so that a replacement is started."""
        self.members.get(env.version, set()).discard(env)
        idle = self.idle.get(env.version)
        if idle and env in idle:
            idle.remove(env)

    def trim(self) -> list[ExecutionEnvironment]:
        """Idle environments above the targets, removed from the pool for retirement."""
        surplus: list[ExecutionEnvironment] = []
        for version, members in self.members.items():
            idle = self.idle.get(version, [])
            while len(members) > self.targets.get(version, 0) and idle:
                env = idle.pop(0)
                members.discard(env)
                surplus.append(env)
        return surplus

    def all_environments(self) -> list[ExecutionEnvironment]:
        """Every member, idle or busy."""
        return [env for members in self.members.values() for env in members]

    def allocated(self) -> int:
        """Environments initialised and serving this configuration."""
        return sum(len(m) for m in self.members.values())

    def status(self) -> ProvisionedStatus:
        """The configuration's status: IN_PROGRESS until every environment is ready, or FAILED."""
        allocated = self.allocated()
        if self.failed:
            state, reason = FAILED, INIT_FAILURE
        elif allocated >= self.requested:
            state, reason = READY, None
        else:
            state, reason = IN_PROGRESS, None
        return ProvisionedStatus(
            function=self.function,
            qualifier=self.qualifier,
            requested=self.requested,
            available=allocated,
            allocated=allocated,
            status=state,
            status_reason=reason,
            last_modified=self.last_modified,
        )


def _timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + "+0000"
