"""Provisioned concurrency of one version or alias: the environments set aside for it and its status.

The service owns the threads that initialise the environments; this module only keeps the books.
It is not thread-safe: the service uses it while holding its lock.
"""

from __future__ import annotations

import time
from typing import Any

from lambench.core.record import field, record
from lambench.core.runtime.environment import ExecutionEnvironment

IN_PROGRESS = "IN_PROGRESS"
READY = "READY"
FAILED = "FAILED"
#: StatusReason after an init failure (lambda-facts §9).
INIT_FAILURE = "FUNCTION_ERROR_INIT_FAILURE"


@record(frozen=True)
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


@record
class ProvisionedPool:
    """The environments of one provisioned-concurrency configuration.

    A configuration serves one version: the one named, or the alias's version when it was set
    (an alias that routes to two versions cannot take one). If the alias moves later, requests for
    the other version find no environment here and run on demand.
    """

    function: str
    qualifier: str
    version: str
    requested: int
    last_modified: str = field(default_factory=lambda: _timestamp())
    idle: list[ExecutionEnvironment] = field(default_factory=list)
    members: set[ExecutionEnvironment] = field(default_factory=set)
    initializing: int = 0
    failed: bool = False

    def needs_more(self) -> bool:
        """True while another environment should be started."""
        return not self.failed and len(self.members) + self.initializing < self.requested

    def wants(self) -> bool:
        """True if one more ready environment is still needed."""
        return not self.failed and len(self.members) < self.requested

    def add(self, env: ExecutionEnvironment) -> None:
        """A freshly initialised environment joins the pool, idle."""
        self.members.add(env)
        self.idle.append(env)

    def take(self, version: str) -> ExecutionEnvironment | None:
        """An idle environment for a request of `version`, or None when there is none."""
        if version != self.version or not self.idle:
            return None
        return self.idle.pop()

    def give_back(self, env: ExecutionEnvironment) -> bool:
        """Return a busy environment; False if the pool no longer wants it (it must be retired)."""
        if env not in self.members:
            return False
        if env.retired or len(self.members) > self.requested:
            self.members.discard(env)
            return False
        self.idle.append(env)
        return True

    def drop(self, env: ExecutionEnvironment) -> None:
        """Forget an environment (it is being retired), so that a replacement is started."""
        self.members.discard(env)
        if env in self.idle:
            self.idle.remove(env)

    def status(self) -> ProvisionedStatus:
        """The configuration's status: IN_PROGRESS until every environment is ready, or FAILED."""
        allocated = len(self.members)
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
