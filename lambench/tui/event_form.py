"""Small modals around events: a template's parameter form, and saving an event for a function."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Checkbox, Footer, Input, Label, Static

from lambench.core.events import EventError, EventStore, EventTemplate, Param, SavedEvent
from lambench.core.events.catalog import COMMON_PARAMS


def event_json(event: Any) -> str:
    """An event as the editor shows it: JSON indented by two, non-ASCII kept."""
    return json.dumps(event, indent=2, ensure_ascii=False)


def value_text(value: Any) -> str:
    """A parameter value as typed in the form: strings as they are, everything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def param_help(param: Param) -> str:
    """`integer · the object's size in bytes (range 0..)`: the kind, help, choices and range."""
    extra: list[str] = []
    if param.choices:
        extra.append("one of " + ", ".join(value_text(choice) for choice in param.choices))
    if param.minimum is not None or param.maximum is not None:
        low = "" if param.minimum is None else f"{param.minimum:g}"
        high = "" if param.maximum is None else f"{param.maximum:g}"
        extra.append(f"range {low}..{high}")
    text = f"{param.kind} · {param.help}" if param.help else param.kind
    return text + (f" ({'; '.join(extra)})" if extra else "")


def _input_id(name: str) -> str:
    return "param-" + re.sub(r"[^A-Za-z0-9_-]", "_", name)


class TemplateFormScreen(ModalScreen[str | None]):
    """A template's parameters, one input each; dismisses with the rendered event, or None."""

    CSS_PATH = "event_picker.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Back", id="event-form-cancel"),
        # Priority, so enter renders from whichever input has the focus.
        Binding("enter", "use", "Use event", id="event-form-use", priority=True),
        # Priority, or the scrolling field list would take the arrows to scroll.
        Binding("down", "app.focus_next", "Next field", id="event-form-next", show=False, priority=True),
        Binding(
            "up", "app.focus_previous", "Previous field", id="event-form-previous", show=False, priority=True
        ),
    ]

    def __init__(self, template: EventTemplate) -> None:
        super().__init__()
        self.template = template
        self._inputs: dict[str, Input] = {}
        #: Why a field's text is not a value its parameter takes, by parameter name.
        self._problems: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        template = self.template
        with Vertical(id="form-dialog"):
            yield Static(Content.styled(template.description, "$text-muted"), id="form-description")
            fields = VerticalScroll(id="form-fields")
            # Focus moves between the inputs only; the list scrolls to the focused one.
            fields.can_focus = False
            with fields:
                for param in template.all_params:
                    if param is COMMON_PARAMS[0]:
                        yield Static("every template", classes="form-section")
                    yield from self._field(param)
            yield Static("", id="form-error")
        yield Footer()

    def _field(self, param: Param) -> ComposeResult:
        choices = [value_text(choice) for choice in param.choices]
        if param.kind == "boolean":
            choices = ["true", "false"]
        field = Input(
            value_text(param.default),
            id=_input_id(param.name),
            classes="form-input",
            suggester=SuggestFromList(choices, case_sensitive=False) if choices else None,
        )
        self._inputs[param.name] = field
        with Horizontal(classes="form-row"):
            yield Label(Content(param.name), classes="form-name")
            yield field
        yield Static(Content(param_help(param)), classes="form-help")

    def on_mount(self) -> None:
        dialog = self.query_one("#form-dialog")
        dialog.border_title = self.template.key
        dialog.border_subtitle = "enter uses the event · escape goes back"
        first = self.template.all_params[0].name
        self._inputs[first].focus()

    def values(self) -> dict[str, str]:
        """The parameters whose text differs from their default, as typed."""
        changed: dict[str, str] = {}
        for param in self.template.all_params:
            text = self._inputs[param.name].value
            if text != value_text(param.default):
                changed[param.name] = text
        return changed

    def on_input_changed(self, event: Input.Changed) -> None:
        # Each field is checked as it is typed; the whole event renders only on enter.
        name = next((name for name, field in self._inputs.items() if field is event.input), None)
        if name is None:
            return
        try:
            self.template.param(name).coerce(event.value)
        except EventError as exc:
            self._problems[name] = str(exc)
        else:
            self._problems.pop(name, None)
        event.input.set_class(name in self._problems, "invalid")
        # The message of the field being typed in, else of another field still wrong.
        self._show_error(self._problems.get(name) or next(iter(self._problems.values()), ""))

    def render_event(self) -> str:
        """The event with the form's values, as JSON; raises EventError (one line) for a bad value."""
        try:
            return event_json(self.template.render(self.values()))
        except EventError:
            raise
        except ValueError as exc:  # ExpressionError: a fault in the template itself
            raise EventError(str(exc)) from None

    def action_use(self) -> None:
        """Render the template with the form's values and close with it."""
        try:
            text = self.render_event()
        except EventError as exc:
            self._show_error(str(exc))
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        """Back to the picker."""
        self.dismiss(None)

    def _show_error(self, text: str) -> None:
        error = self.query_one("#form-error", Static)
        error.update(Content(text))  # plain text: a message may quote a value with brackets
        error.set_class(bool(text), "error")


class SaveEventScreen(ModalScreen[SavedEvent | None]):
    """Ask for a name and save the event for the function (or shared); dismisses with what was saved."""

    CSS_PATH = "event_picker.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="save-event-cancel"),
        Binding("enter", "save", "Save", id="save-event-save", priority=True),
    ]

    def __init__(self, project_dir: Path | str, function: str | None, event_text: str) -> None:
        super().__init__()
        self.project_dir = Path(project_dir)
        # Saved events belong to the function, whatever version or alias is selected.
        self.function = function.partition(":")[0] if function else None
        self.event_text = event_text

    def compose(self) -> ComposeResult:
        with Vertical(id="save-dialog"):
            yield Input(placeholder="name, e.g. upload-photo", id="save-name")
            if self.function is not None:
                yield Checkbox("shared with every function", id="save-shared")
            yield Checkbox("replace an event of the same name", id="save-overwrite")
            yield Static("", id="save-error")
        yield Footer()

    def on_mount(self) -> None:
        dialog = self.query_one("#save-dialog")
        dialog.border_title = (
            f"Save the event for {self.function}" if self.function else "Save a shared event"
        )
        self.query_one("#save-name", Input).focus()
        problem = self._problem()
        if problem is not None:
            self._show_error(problem)

    def _problem(self) -> str | None:
        try:
            json.loads(self.event_text)
        except ValueError as exc:
            return f"the event is not valid JSON, so it cannot be saved: {exc}"
        return None

    def action_save(self) -> None:
        """Save under the typed name; the store's own message explains a refusal."""
        problem = self._problem()
        if problem is not None:
            self._show_error(problem)
            return
        shared = self.function is None or self.query_one("#save-shared", Checkbox).value
        overwrite = self.query_one("#save-overwrite", Checkbox).value
        name = self.query_one("#save-name", Input).value.strip()
        try:
            saved = EventStore(self.project_dir).save(
                name,
                json.loads(self.event_text),
                function=None if shared else self.function,
                overwrite=overwrite,
            )
        except EventError as exc:
            self._show_error(str(exc))
            return
        self.dismiss(saved)

    def action_cancel(self) -> None:
        """Close without saving."""
        self.dismiss(None)

    def _show_error(self, text: str) -> None:
        error = self.query_one("#save-error", Static)
        error.update(Content(text))  # plain text: a message may quote a value with brackets
        error.set_class(bool(text), "error")
