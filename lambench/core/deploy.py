"""Apply a template's deployment settings to the local service, as `sam deploy` would to AWS.

Reserved concurrency is set; AutoPublishAlias publishes a version when the code or configuration
changed and points the alias at it; provisioned concurrency is configured on that alias. Starting
provisioned environments costs processes, so callers choose which aliases to provision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from lambench.core.config import ConfigError
from lambench.core.record import record
from lambench.core.runtime import errors
from lambench.core.runtime.service import LocalLambda
from lambench.core.template import Deployment


@record(frozen=True)
class DeployStep:
    """One thing applying a deployment did, for the user to read."""

    function: str
    message: str


def apply_deployments(
    service: LocalLambda,
    deployments: Mapping[str, Deployment],
    *,
    publish: Callable[[str], bool] = lambda function: True,
    provision: Callable[[str, str], bool] = lambda function, alias: True,
) -> list[DeployStep]:
    """Apply every function's settings.

    Reserved concurrency is always set. `publish(function)` says whether to run its
    AutoPublishAlias (which snapshots code into the versions store, so a command that does not
    use the alias can skip it), and `provision(function, alias)` whether to start its provisioned
    concurrency.

    Raises `ConfigError` (naming the function) when the service refuses a setting, e.g. a
    reservation that would leave the account's unreserved pool below its minimum.
    """
    steps: list[DeployStep] = []
    for name, deployment in deployments.items():
        try:
            steps.extend(_apply(service, name, deployment, publish(name), provision))
        except errors.LambdaServiceError as exc:
            raise ConfigError(f"{name}: {exc.message}") from None
    return steps


def _apply(
    service: LocalLambda,
    name: str,
    deployment: Deployment,
    publish: bool,
    provision: Callable[[str, str], bool],
) -> list[DeployStep]:
    steps: list[DeployStep] = []
    if deployment.async_config is not None:
        service.put_event_invoke_config(name, deployment.async_config)
        steps.append(DeployStep(name, "asynchronous invocation settings (EventInvokeConfig) applied"))
    if deployment.reserved_concurrency is not None:
        service.put_function_concurrency(name, deployment.reserved_concurrency)
        steps.append(DeployStep(name, f"reserved concurrency {deployment.reserved_concurrency}"))
    alias = deployment.auto_publish_alias
    if alias is None or not publish:
        return steps
    version = service.publish_version(name)
    current = {a.name: a for a in service.aliases(name)}.get(alias)
    if current is None:
        service.create_alias(name, alias, version.number)
        steps.append(DeployStep(name, f"published version {version.number}; alias {alias} created"))
    elif current.function_version != version.number or current.weights:
        service.update_alias(name, alias, version=version.number, weights={})
        steps.append(DeployStep(name, f"published version {version.number}; alias {alias} moved to it"))
    if deployment.provisioned and provision(name, alias):
        service.put_provisioned_concurrency(name, alias, deployment.provisioned)
        steps.append(DeployStep(name, f"provisioned concurrency {deployment.provisioned} on {alias}"))
    return steps
