"""`lambench events`: browse the built-in event templates, render them, and keep saved events."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambench.cli.commands import RawDescriptionHelpFormatter
from lambench.cli.common import UserError, add_project_option
from lambench.cli.event_options import add_param_option, event_errors, find_template, render_template

if TYPE_CHECKING:
    from lambench.core.events import EventTemplate, SavedEvent


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the `events` command's description and options (`cli.commands` names it)."""
    parser.description = (
        "Built-in templates render the events AWS services send to Lambda, with fresh ids,\n"
        "current timestamps and derived fields (md5 digests, sizes, ARNs, encodings) kept\n"
        "consistent. Saved events live in the project: .lambench/events/FUNCTION/NAME.json\n"
        "for one function and .lambench/shared-events/NAME.json for all of them."
    )
    parser.epilog = (
        "examples:\n"
        "  lambench events list --service sqs\n"
        "  lambench events show s3 object-created\n"
        "  lambench events generate sqs/receive-message --param records=3 --param body='{\"id\": 7}'\n"
        "  lambench events save s3-processor upload --from s3/object-created --param key='a b.jpg'\n"
        "  lambench invoke s3-processor --saved-event upload"
    )
    parser.formatter_class = RawDescriptionHelpFormatter
    parser.set_defaults(run=lambda args: _print_help(parser))
    commands = parser.add_subparsers(dest="events_command", metavar="SUBCOMMAND")
    _add_template_commands(commands)
    _add_saved_event_commands(commands)


def _add_template_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`events list`, `events show` and `events generate`."""
    listing = commands.add_parser(
        "list",
        help="list the templates and the saved events",
        description="List the built-in templates (SERVICE/NAME, delivery, description) and the saved events.",
    )
    listing.add_argument("--service", metavar="S", help="only this service's templates")
    listing.add_argument(
        "--function", metavar="FN", help="saved events: only this function's and the shared ones"
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_project_option(listing)
    listing.set_defaults(run=run_list)

    show = commands.add_parser(
        "show",
        help="a template's description, parameters and default event",
        description="Show what a template is for, how Lambda receives it, its parameters and its event.",
    )
    _add_template_argument(show)
    show.add_argument("--json", action="store_true", help="print the metadata as JSON")
    show.set_defaults(run=run_show)

    generate = commands.add_parser(
        "generate",
        help="print an event rendered from a template",
        description=(
            "Render a template to standard output. Parameters not given keep their defaults; "
            "'lambench events show SERVICE NAME' lists them. Every template also takes region, account "
            "and time (now, or an ISO 8601 timestamp)."
        ),
    )
    _add_template_argument(generate)
    add_param_option(generate)
    generate.add_argument("--compact", action="store_true", help="one line instead of indented JSON")
    generate.set_defaults(run=run_generate)


def _add_saved_event_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`events save`, `events rename` and `events delete`."""
    save = _saved_event_command(
        commands,
        "save",
        help="save an event for a function (or shared) from a template or a file",
        usage="lambench events save (FUNCTION NAME | --shared NAME) --from SOURCE [options]",
        description=(
            "Save an event under a name, for one function or (--shared) for the whole project. SOURCE "
            "is a template as SERVICE/NAME (with --param values), a JSON file, or '-' for standard "
            "input. An existing saved event is never replaced without --force."
        ),
        force_help="replace a saved event of the same name",
    )
    save.add_argument(
        "--from", dest="source", required=True, metavar="SOURCE", help="SERVICE/NAME, FILE or -"
    )
    add_param_option(save)
    save.set_defaults(run=run_save)

    rename = _saved_event_command(
        commands,
        "rename",
        help="rename a saved event",
        usage="lambench events rename (FUNCTION OLD NEW | --shared OLD NEW) [options]",
        description="Rename a saved event. An event that has the new name is never replaced without --force.",
        force_help="replace an event that has the new name",
    )
    rename.set_defaults(run=run_rename)

    delete = _saved_event_command(
        commands,
        "delete",
        help="delete a saved event",
        usage="lambench events delete (FUNCTION NAME | --shared NAME) [options]",
        description="Delete a saved event file.",
    )
    delete.set_defaults(run=run_delete)


def _saved_event_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    *,
    help: str,
    usage: str,
    description: str,
    force_help: str | None = None,
) -> argparse.ArgumentParser:
    """A subcommand on saved events: `FUNCTION ...` or `--shared ...`, `--project`, maybe `--force`."""
    parser = commands.add_parser(name, help=help, usage=usage, description=description)
    # The positionals' meaning depends on --shared, so _scope checks them against the usage line.
    parser.add_argument("names", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument(
        "--shared", action="store_true", help="the project's shared events, not one function's"
    )
    add_project_option(parser)
    if force_help:
        parser.add_argument("--force", action="store_true", help=force_help)
    return parser


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _add_template_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "service", metavar="SERVICE", help="service key, e.g. s3 (or SERVICE/NAME in one word)"
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="template name, e.g. object-created")


def run_list(args: argparse.Namespace) -> int:
    """`lambench events list`."""
    from lambench.core.events import Catalog

    catalog = Catalog.builtin()
    with event_errors():
        templates = catalog.templates(args.service)
        saved = (
            [] if args.service else _store(args).events(args.function, all_functions=args.function is None)
        )
    if args.json:
        entries: list[dict[str, Any]] = [_template_summary(template) for template in templates]
        entries += [_saved_summary(event) for event in saved]
        print(json.dumps(entries, indent=2))
        return 0
    width = max((len(template.key) for template in templates), default=0) + 2
    for template in templates:
        print(f"{template.key:<{width}}{template.delivery.value:<7}{template.description}")
    services = len({template.service for template in templates})
    print(
        f"\n{len(templates)} templates across {services} services. "
        "'lambench events show SERVICE NAME' shows one."
    )
    if saved:
        label_width = max(len(event.label) for event in saved) + 2
        print("\nSaved events:")
        for event in saved:
            print(f"{event.label:<{label_width}}{event.scope:<10}{_relative(event.path, args.project)}")
    return 0


def _template_summary(template: EventTemplate) -> dict[str, Any]:
    return {
        "source": "builtin",
        "service": template.service,
        "name": template.name,
        "key": template.key,
        "delivery": template.delivery.value,
        "description": template.description,
    }


def _saved_summary(event: SavedEvent) -> dict[str, Any]:
    return {
        "source": event.scope,
        "function": event.function,
        "name": event.name,
        "key": event.label,
        "path": str(event.path),
    }


def _relative(path: Path, project: str) -> str:
    try:
        return str(path.relative_to(Path(project)))
    except ValueError:
        return str(path)


def run_show(args: argparse.Namespace) -> int:
    """`lambench events show`."""
    from lambench.core.events import Catalog

    template = find_template(args.service, args.name)
    event = render_template(template, [])
    service = Catalog.builtin().service(template.service)
    if args.json:
        meta = _template_summary(template)
        meta.pop("source")
        meta["service_title"] = service.title
        meta["delivery_label"] = template.delivery.label
        meta["validated_by"] = dict(template.validated_by)
        meta["params"] = [
            {
                "name": param.name,
                "type": param.kind,
                "default": param.default,
                "help": param.help,
                **({"choices": list(param.choices)} if param.choices else {}),
                **({"min": param.minimum} if param.minimum is not None else {}),
                **({"max": param.maximum} if param.maximum is not None else {}),
                **({"example": param.example} if param.example is not None else {}),
            }
            for param in template.all_params
        ]
        meta["event"] = event
        print(json.dumps(meta, indent=2, ensure_ascii=False))
        return 0
    print(f"{template.key}  ({service.title})")
    print(f"  {template.description}")
    print(f"  Delivery: {template.delivery.label}")
    if template.validated_by:
        kind, name = next(iter(template.validated_by.items()))
        what = {"model": "parser model", "model_each": "parser model (each item)"}.get(kind, "data class")
        print(f"  Shape checked against aws-lambda-powertools {what} {name}")
    print("\nParameters (--param KEY=VALUE):")
    width = max(len(param.name) for param in template.all_params) + 2
    for param in template.all_params:
        default = json.dumps(param.default, ensure_ascii=False)
        extra = []
        if param.choices:
            extra.append("one of " + ", ".join(map(str, param.choices)))
        if param.minimum is not None or param.maximum is not None:
            low = "" if param.minimum is None else f"{param.minimum:g}"
            high = "" if param.maximum is None else f"{param.maximum:g}"
            extra.append(f"range {low}..{high}")
        help_text = param.help + (f" ({'; '.join(extra)})" if extra else "")
        lines = textwrap.wrap(help_text, 72) or [""]
        print(f"  {param.name:<{width}}{param.kind:<8} default {default}")
        for line in lines:
            print(f"  {'':<{width}}{line}")
    print("\nEvent with the defaults:")
    print(json.dumps(event, indent=2, ensure_ascii=False))
    return 0


def run_generate(args: argparse.Namespace) -> int:
    """`lambench events generate`."""
    template = find_template(args.service, args.name)
    event = render_template(template, args.param)
    print(json.dumps(event, indent=None if args.compact else 2, ensure_ascii=False))
    return 0


def _scope(args: argparse.Namespace, arity: int, usage: str) -> tuple[str | None, list[str]]:
    """The function (None when --shared) and the remaining names, checked against the usage."""
    names: list[str] = args.names
    expected = arity if args.shared else arity + 1
    if len(names) != expected:
        raise UserError(f"usage: {usage}")
    if args.shared:
        return None, names
    function, *rest = names
    _check_function(args, function)
    return function, rest


def _check_function(args: argparse.Namespace, function: str) -> None:
    # A typo must not create a folder no function reads; the project's function list decides.
    from lambench.cli.common import load_functions

    functions = load_functions(argparse.Namespace(project=args.project))
    if function not in functions:
        choices = ", ".join(sorted(functions)) or "none"
        raise UserError(f"no function {function!r} in {args.project}; functions are: {choices}")


def _store(args: argparse.Namespace) -> Any:
    from lambench.core.events import EventStore

    return EventStore(args.project)


def run_save(args: argparse.Namespace) -> int:
    """`lambench events save`."""
    function, (name,) = _scope(args, 1, "lambench events save (FUNCTION NAME | --shared NAME) --from SOURCE")
    event = _event_from_source(args.source, args.param)
    with event_errors():
        saved = _store(args).save(name, event, function=function, overwrite=args.force)
    print(f"saved {saved.label} to {_relative(saved.path, args.project)}", file=sys.stderr)
    return 0


def _event_from_source(source: str, pairs: list[str]) -> Any:
    path = Path(source)
    if source == "-" or path.is_file():
        if pairs:
            raise UserError("--param applies to templates, not to a file")
        try:
            text = sys.stdin.read() if source == "-" else path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read {source}: {exc}") from None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            where = "standard input" if source == "-" else source
            raise UserError(f"{where}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    if "/" not in source or source.endswith(".json"):
        raise UserError(f"--from {source!r} is neither a file nor a template (SERVICE/NAME)")
    return render_template(find_template(source, None), pairs)


def run_rename(args: argparse.Namespace) -> int:
    """`lambench events rename`."""
    function, (old, new) = _scope(args, 2, "lambench events rename (FUNCTION OLD NEW | --shared OLD NEW)")
    with event_errors():
        renamed = _store(args).rename(old, new, function=function, overwrite=args.force)
    print(f"renamed {(function or 'shared')}/{old} to {renamed.label}", file=sys.stderr)
    return 0


def run_delete(args: argparse.Namespace) -> int:
    """`lambench events delete`."""
    function, (name,) = _scope(args, 1, "lambench events delete (FUNCTION NAME | --shared NAME)")
    with event_errors():
        deleted = _store(args).delete(name, function=function)
    print(f"deleted {deleted.label}", file=sys.stderr)
    return 0
