"""Themes as files: `themes/*.toml` in the project tree (and `~/.config/lambench/themes/`).

A theme file names Textual's theme colors (primary, background, ...) and lambench's own
variables (`lambench-cold`, `lambench-warm`, `lambench-idle`, `lambench-throttle`,
`lambench-platform`). A file that cannot be read or has a bad value is reported in one line and
skipped, so the app falls back to the default theme.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

DEFAULT_THEME = "lambench-dark"
#: Where lambench looks for theme files, in order (a later file with the same name wins).
THEME_DIRS = (Path(__file__).resolve().parents[2] / "themes", Path.home() / ".config" / "lambench" / "themes")
#: lambench's own variables and their values when a theme leaves them out.
VARIABLE_DEFAULTS = {
    "lambench-cold": "#5aa9ff",
    "lambench-warm": "#6ccb7a",
    "lambench-idle": "#3a3f4b",
    "lambench-throttle": "#ff6b6b",
    "lambench-platform": "#7fb8c9",
}
_COLORS = (
    *("primary", "secondary", "accent", "foreground", "background", "surface", "panel"),
    *("success", "warning", "error", "boost"),
)


@dataclass
class LoadedThemes:
    """The themes found, and one line per file that could not be used."""

    themes: list[Theme] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def load_themes(directories: tuple[Path, ...] = THEME_DIRS) -> LoadedThemes:
    """Every `*.toml` theme in `directories`."""
    loaded = LoadedThemes()
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            try:
                loaded.themes.append(parse_theme(path))
            except ThemeError as exc:
                loaded.problems.append(str(exc))
    return loaded


class ThemeError(Exception):
    """A theme file that cannot be used: `<file>: <what is wrong>`."""


def parse_theme(path: Path) -> Theme:
    """One theme file as a Textual Theme; raises ThemeError naming the file and the problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ThemeError(f"{path.name}: cannot read it: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ThemeError(f"{path.name}: not valid TOML: {exc}") from None
    name = data.pop("name", None)
    if not isinstance(name, str) or not name.strip():
        raise ThemeError(f'{path.name}: needs a name = "..."')
    dark = data.pop("dark", True)
    if not isinstance(dark, bool):
        raise ThemeError(f"{path.name}: dark must be true or false")
    variables = data.pop("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ThemeError(f"{path.name}: [variables] must map names to color strings")
    colors: dict[str, str] = {}
    for key, value in data.items():
        if key not in _COLORS:
            raise ThemeError(
                f"{path.name}: unknown key {key!r}; use {', '.join(_COLORS)}, dark, name, [variables]"
            )
        colors[key] = _color(path, key, value)
    if "primary" not in colors:
        raise ThemeError(f"{path.name}: needs a primary color")
    for key, value in variables.items():
        if key.startswith("lambench-"):
            _color(path, key, value)
    return Theme(
        name=name.strip(),
        dark=dark,
        variables={**VARIABLE_DEFAULTS, **variables},
        primary=colors["primary"],
        secondary=colors.get("secondary"),
        accent=colors.get("accent"),
        foreground=colors.get("foreground"),
        background=colors.get("background"),
        surface=colors.get("surface"),
        panel=colors.get("panel"),
        success=colors.get("success"),
        warning=colors.get("warning"),
        error=colors.get("error"),
        boost=colors.get("boost"),
    )


def _color(path: Path, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ThemeError(f'{path.name}: {key} must be a color string such as "#5aa9ff"')
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeError(f"{path.name}: {key} = {value!r} is not a color") from None
    return value
