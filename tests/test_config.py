"""Function configuration is validated as AWS validates it, with messages naming field and range."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambench.core.config import ConfigError, FunctionConfig, LoggingConfig


def _create(tmp_path: Path, **options: object) -> FunctionConfig:
    return FunctionConfig.create(name="fn", handler="app.handler", code_dir=tmp_path, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"memory_mb": 127}, "MemorySize: 127 is out of range; use 128-10240 MB"),
        ({"memory_mb": 10241}, "MemorySize: 10241 is out of range; use 128-10240 MB"),
        ({"memory_mb": 128.5}, "MemorySize: 128.5 is not a whole number; use 128-10240 MB"),
        ({"memory_mb": True}, "MemorySize: True is not a whole number; use 128-10240 MB"),
        ({"timeout_s": 0}, "Timeout: 0 is out of range; use 1-900 seconds"),
        ({"timeout_s": 901}, "Timeout: 901 is out of range; use 1-900 seconds"),
        ({"ephemeral_storage_mb": 10241}, "EphemeralStorage: 10241 is out of range; use 512-10240 MB"),
        ({"runtime": "python2.7"}, "Runtime: 'python2.7' is not supported; use one of "),
        (
            {"environment": {"1BAD": "x"}},
            "Environment.Variables: '1BAD' is not a valid name; start with a letter",
        ),
        (
            {"environment": {"BIG": "x" * 4094}},
            "Environment.Variables: 4097 bytes in total; Lambda allows at most 4096",
        ),
        (
            {"logging": LoggingConfig(log_format="XML")},
            "LoggingConfig.LogFormat: 'XML' is not valid; use Text or JSON",
        ),
        (
            {"logging": LoggingConfig(log_format="JSON", application_log_level="LOUD")},
            "LoggingConfig.ApplicationLogLevel: 'LOUD' is not valid; "
            "use one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL",
        ),
        (
            {"logging": LoggingConfig(log_format="JSON", system_log_level="TRACE")},
            "LoggingConfig.SystemLogLevel: 'TRACE' is not valid; use one of DEBUG, INFO, WARN",
        ),
        ({"layers": ["/no/such/layer"]}, "Layers: /no/such/layer is not a directory"),
    ],
)
def test_invalid_values_name_the_field_and_range(
    tmp_path: Path, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _create(tmp_path, **options)
    assert str(caught.value).startswith(message)


def test_limits_are_inclusive_and_values_normalised(tmp_path: Path) -> None:
    config = _create(
        tmp_path,
        memory_mb="10240",
        timeout_s=900,
        ephemeral_storage_mb=10240,
        # 4 + 4 + 1 + 1 + 3 + 4083 = 4096 bytes: exactly the limit.
        environment={"FLAG": True, "N": 3, "BIG": "x" * 4083},
    )
    assert (config.memory_mb, config.timeout_s, config.ephemeral_storage_mb) == (10240, 900, 10240)
    assert config.environment == {"FLAG": "true", "N": "3", "BIG": "x" * 4083}
    assert config.code_dir == tmp_path.resolve()
    assert config.log_group == "/aws/lambda/fn"


def test_json_logging_defaults_to_info_and_text_to_nothing() -> None:
    assert LoggingConfig(log_format="JSON").effective_application_level() == "INFO"
    assert LoggingConfig().effective_application_level() is None
    assert LoggingConfig(log_group="/custom").log_group == "/custom"


def test_bad_name_and_missing_code(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^FunctionName: 'my fn' is not valid"):
        FunctionConfig.create(name="my fn", handler="a.b", code_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"^CodeUri: .*nowhere is not a directory$"):
        FunctionConfig.create(name="fn", handler="a.b", code_dir=tmp_path / "nowhere")
    with pytest.raises(ConfigError, match=r"^Handler: a Python function needs a handler"):
        FunctionConfig.create(name="fn", handler="", code_dir=tmp_path)
    custom = FunctionConfig.create(name="fn", handler="", code_dir=tmp_path, runtime="provided.al2023")
    assert custom.is_custom_runtime
