"""`lambench versions` and `lambench aliases`: publish versions and route aliases between them.

Both live in the project's `.lambench/versions/`, so `lambench invoke fn:2` or `fn:live` in a later
run (or the TUI) finds them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from lambench.cli.common import (
    UserError,
    add_project_option,
    load_project_functions,
    open_service,
    print_table,
    require_function,
    service_errors,
)

if TYPE_CHECKING:
    from lambench.core.runtime.service import LocalLambda
    from lambench.core.runtime.versions import Version


def configure_versions(versions: argparse.ArgumentParser) -> None:
    """Add the `versions` command's description and options (`cli.commands` names it)."""
    versions.description = (
        "Versions are immutable snapshots of a function's code and configuration: later edits to "
        "the code do not change them. Invoke one with 'lambench invoke FUNCTION:N'."
    )
    commands = versions.add_subparsers(dest="versions_command", metavar="COMMAND", required=True)
    publish = commands.add_parser(
        "publish",
        help="publish $LATEST as a new version",
        description=(
            "Snapshot the function's code and configuration as the next version. If nothing changed "
            "since the latest version, that version is returned and no new one is made (as in AWS)."
        ),
    )
    publish.add_argument("function", metavar="FUNCTION")
    publish.add_argument("--description", default="", help="a description for the version")
    _common(publish)
    publish.set_defaults(run=run_publish)
    listing = commands.add_parser("list", help="list a function's published versions")
    listing.add_argument("function", metavar="FUNCTION")
    _common(listing)
    listing.set_defaults(run=run_list_versions)


def configure_aliases(aliases: argparse.ArgumentParser) -> None:
    """Add the `aliases` command's description and options (`cli.commands` names it)."""
    aliases.description = (
        "An alias names a version, and may send a share of its requests to a second version "
        "(--weight 2=0.1 sends 10% to version 2). Invoke one with 'lambench invoke FUNCTION:ALIAS'."
    )
    alias_commands = aliases.add_subparsers(dest="aliases_command", metavar="COMMAND", required=True)
    for action in ("create", "update"):
        parser = alias_commands.add_parser(
            action,
            help=f"{action} an alias",
            description=f"{action.capitalize()} an alias of a function.",
        )
        parser.add_argument("function", metavar="FUNCTION")
        parser.add_argument("alias", metavar="NAME")
        parser.add_argument(
            "--version",
            required=action == "create",
            metavar="V",
            help="the version the alias points to (a number, or $LATEST)",
        )
        parser.add_argument(
            "--weight",
            metavar="V2=W",
            help="route a share W (0.0-1.0) of requests to version V2; the rest go to --version",
        )
        if action == "update":
            parser.add_argument(
                "--no-weight", action="store_true", help="remove the routing: all requests go to --version"
            )
        parser.add_argument("--description", help="a description for the alias")
        _common(parser)
        parser.set_defaults(run=run_put_alias, create=action == "create")
    listing = alias_commands.add_parser("list", help="list a function's aliases")
    listing.add_argument("function", metavar="FUNCTION")
    _common(listing)
    listing.set_defaults(run=run_list_aliases)
    delete = alias_commands.add_parser("delete", help="delete an alias")
    delete.add_argument("function", metavar="FUNCTION")
    delete.add_argument("alias", metavar="NAME")
    _common(delete, json_option=False)
    delete.set_defaults(run=run_delete_alias)


def _common(parser: argparse.ArgumentParser, *, json_option: bool = True) -> None:
    add_project_option(parser)
    if json_option:
        parser.add_argument("--json", action="store_true", help="print the result as JSON")


@contextlib.contextmanager
def _function_service(args: argparse.Namespace) -> Iterator[tuple[str, LocalLambda]]:
    """The named function and a service for the project, with service errors made one-liners."""
    loaded = load_project_functions(args)
    name = require_function(loaded, args.function, args.project)
    with service_errors(), open_service(args, loaded, publish=name.__eq__) as service:
        yield name, service


def parse_weight(text: str | None) -> dict[str, float] | None:
    """`2=0.1` as `{"2": 0.1}`."""
    if text is None:
        return None
    version, sep, weight = text.partition("=")
    if not sep or not version.strip():
        raise UserError(f"--weight {text!r}: use VERSION=WEIGHT, e.g. 2=0.1")
    try:
        value = float(weight)
    except ValueError:
        raise UserError(f"--weight {text!r}: {weight!r} is not a number between 0.0 and 1.0") from None
    return {version.strip(): value}


def run_publish(args: argparse.Namespace) -> int:
    """Publish a version and print it."""
    with _function_service(args) as (name, service):
        before = {v.number for v in service.versions(name)}
        version = service.publish_version(name, args.description)
    if args.json:
        print(json.dumps(_version_json(version), indent=2))
    elif version.number in before:
        print(f"{name}: nothing changed since version {version.number}; no new version published")
    else:
        print(f"{name}: published version {version.number} (CodeSha256 {version.code_sha256})")
    return 0


def run_list_versions(args: argparse.Namespace) -> int:
    """List published versions."""
    with _function_service(args) as (name, service):
        versions = service.versions(name)
    if args.json:
        print(json.dumps([_version_json(v) for v in versions], indent=2))
        return 0
    if not versions:
        print(f"{name} has no published versions; publish one with 'lambench versions publish {name}'")
        return 0
    rows = [
        (v.number, v.last_modified, f"{v.config.memory_mb} MB", v.code_sha256[:12], v.description or "-")
        for v in versions
    ]
    print_table(("VERSION", "PUBLISHED", "MEMORY", "CODE", "DESCRIPTION"), rows)
    return 0


def run_put_alias(args: argparse.Namespace) -> int:
    """Create or update an alias."""
    weights = parse_weight(args.weight)
    if getattr(args, "no_weight", False):
        if weights is not None:
            raise UserError("--weight and --no-weight contradict each other; give one")
        weights = {}
    with _function_service(args) as (name, service):
        if args.create:
            alias = service.create_alias(
                name, args.alias, args.version, weights=weights, description=args.description or ""
            )
        else:
            alias = service.update_alias(
                name, args.alias, version=args.version, weights=weights, description=args.description
            )
        region = service.get_function(name).region
    if args.json:
        print(json.dumps(alias.to_json(region), indent=2))
    else:
        print(f"{name}:{alias.name} -> {_routing(alias.function_version, dict(alias.weights))}")
    return 0


def run_list_aliases(args: argparse.Namespace) -> int:
    """List aliases."""
    with _function_service(args) as (name, service):
        aliases = service.aliases(name)
        region = service.get_function(name).region
    if args.json:
        print(json.dumps([a.to_json(region) for a in aliases], indent=2))
        return 0
    if not aliases:
        print(f"{name} has no aliases; create one with 'lambench aliases create {name} NAME --version N'")
        return 0
    rows = [(a.name, _routing(a.function_version, dict(a.weights)), a.description or "-") for a in aliases]
    print_table(("ALIAS", "ROUTES TO", "DESCRIPTION"), rows)
    return 0


def run_delete_alias(args: argparse.Namespace) -> int:
    """Delete an alias."""
    with _function_service(args) as (name, service):
        if args.alias not in {a.name for a in service.aliases(name)}:
            print(f"lambench: {name} has no alias {args.alias!r}; nothing to delete", file=sys.stderr)
            return 0
        service.delete_alias(name, args.alias)
    print(f"{name}: alias {args.alias} deleted")
    return 0


def _routing(primary: str, weights: dict[str, float]) -> str:
    if not weights:
        return f"version {primary}"
    ((extra, weight),) = weights.items()
    return f"version {primary} ({1 - weight:.0%}), version {extra} ({weight:.0%})"


def _version_json(version: Version) -> dict[str, object]:
    return {
        "FunctionName": version.function,
        "FunctionArn": version.arn,
        "Version": version.number,
        "CodeSha256": version.code_sha256,
        "Description": version.description,
        "LastModified": version.last_modified,
        "MemorySize": version.config.memory_mb,
        "Timeout": version.config.timeout_s,
        "Runtime": version.config.runtime,
        "Handler": version.config.handler,
    }
