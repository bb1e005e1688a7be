"""`build_local_backend`: a loaded project becomes a deployed LocalBackend, or a ConfigError."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambench.core.backends.build import build_local_backend
from lambench.core.backends.local import LocalBackend
from lambench.core.config import ConfigError
from lambench.core.template import Deployment, load_project
from tests.helpers import copy_demo


def test_the_demo_project_is_deployed_into_its_own_state_directory(tmp_path: Path) -> None:
    project_dir = copy_demo(tmp_path)
    project = load_project(project_dir)
    with build_local_backend(project, share=False, log_store=False, publish="heavy-init".__eq__) as backend:
        assert backend.project_dir == project_dir.resolve()
        assert [f.name for f in backend.list_functions()] == list(project.functions)
        assert backend.service.get_function_concurrency("slow") == 5
        assert [a.name for a in backend.service.aliases("heavy-init")] == ["live"]
        # Provisioned concurrency only starts where asked for.
        assert backend.describe_function("heavy-init").provisioned == ()
    assert (project_dir / ".lambench" / "versions").is_dir()


def test_a_refused_deployment_is_a_config_error_and_the_backend_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project_dir = copy_demo(tmp_path)
    project = load_project(project_dir)
    project.deployments["slow"] = Deployment(reserved_concurrency=999)
    closed: list[LocalBackend] = []
    close = LocalBackend.close

    def recording_close(self: LocalBackend) -> None:
        closed.append(self)
        close(self)

    monkeypatch.setattr(LocalBackend, "close", recording_close)
    with pytest.raises(ConfigError, match=r"^slow: "):
        build_local_backend(project, project_dir, share=False, log_store=False)
    assert len(closed) == 1
