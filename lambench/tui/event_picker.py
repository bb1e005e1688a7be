"""The event picker: fuzzy search over the built-in templates and the project's saved events.

`EventPickerScreen` is a modal that dismisses with the chosen event as JSON text (indented by
two) or None when cancelled. A template with parameters opens `TemplateFormScreen` first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from lambench.core.events import Catalog, EventError, EventStore, EventTemplate, SavedEvent
from lambench.tui.event_form import TemplateFormScreen, event_json

# -- fuzzy matching -----------------------------------------------------------------------------
# A subsequence match scored like fzf's: every matched character scores, more so at the start of
# a word and in a run; gaps cost. The best alignment wins, not the leftmost one, so "s3put"
# lands on "PUT" in a description rather than on a stray "p" in the middle of a word.

_MATCH = 16
_BONUS_FIRST = 10  # the text's first character
_BONUS_BOUNDARY = 8  # after a space, slash, dash, dot, bracket...
_BONUS_CAMEL = 6  # lower to upper case, or letter to digit
_BONUS_CONSECUTIVE = 6
_GAP_START = 3
_GAP_EXTEND = 1
#: A match that starts late loses up to this much (so a label match beats a description one).
_MAX_LEADING_PENALTY = 12
_EXACT_BONUS = 50


@dataclass(frozen=True)
class FuzzyMatch:
    """How well a query matched a text, and where its characters landed (for highlighting)."""

    score: int
    positions: tuple[int, ...]


def fold(text: str) -> str:
    """`text` in lower case, one character for one (so match positions index the original)."""
    return "".join(low if len(low := char.lower()) == 1 else char for char in text)


def _bonuses(text: str) -> list[int]:
    bonuses: list[int] = []
    previous = ""
    for index, char in enumerate(text):
        if index == 0:
            bonus = _BONUS_FIRST
        elif not previous.isalnum():
            bonus = _BONUS_BOUNDARY if char.isalnum() else 0
        elif (previous.islower() and char.isupper()) or (previous.isalpha() and char.isdigit()):
            bonus = _BONUS_CAMEL
        else:
            bonus = 0
        bonuses.append(bonus)
        previous = char
    return bonuses


def fuzzy_match(query: str, text: str) -> FuzzyMatch | None:
    """The best way `query`'s characters (spaces ignored, any case) occur in order in `text`.

    None when they do not all occur; an empty query matches everything with score 0.
    """
    needle = fold("".join(query.split()))
    if not needle:
        return FuzzyMatch(0, ())
    hay = fold(text)
    # The earliest and latest place each character can take bound the search (and reject fast).
    earliest: list[int] = []
    start = 0
    for char in needle:
        found = hay.find(char, start)
        if found < 0:
            return None
        earliest.append(found)
        start = found + 1
    latest = [0] * len(needle)
    end = len(hay)
    for index in range(len(needle) - 1, -1, -1):
        end = hay.rfind(needle[index], 0, end)
        latest[index] = end
    bonuses = _bonuses(text)

    # rows[j] holds (position, score, index of the previous row's entry it extends).
    rows: list[list[tuple[int, int, int]]] = []
    for j, char in enumerate(needle):
        positions = [p for p in range(earliest[j], latest[j] + 1) if hay[p] == char]
        row: list[tuple[int, int, int]] = []
        if j == 0:
            for p in positions:
                row.append((p, _MATCH + bonuses[p] - min(p // 2, _MAX_LEADING_PENALTY), -1))
        else:
            previous = rows[j - 1]
            k = 0
            best_value = best_index = -1
            for p in positions:
                # Entries ending before p - 1 leave a gap; keep the best of them as we sweep right.
                while k < len(previous) and previous[k][0] < p - 1:
                    value = previous[k][1] + previous[k][0] * _GAP_EXTEND
                    if best_index < 0 or value > best_value:
                        best_value, best_index = value, k
                    k += 1
                score, back = -1, -1
                if best_index >= 0:
                    score = best_value - p * _GAP_EXTEND - _GAP_START + 2 * _GAP_EXTEND
                    score += _MATCH + bonuses[p]
                    back = best_index
                if k < len(previous) and previous[k][0] == p - 1:
                    run = previous[k][1] + _MATCH + max(bonuses[p], _BONUS_CONSECUTIVE)
                    if back < 0 or run >= score:
                        score, back = run, k
                if back >= 0:
                    row.append((p, score, back))
        if not row:
            return None
        rows.append(row)

    last = max(range(len(rows[-1])), key=lambda i: rows[-1][i][1])
    score = rows[-1][last][1]
    found_positions: list[int] = []
    for j in range(len(rows) - 1, -1, -1):
        position, _, back = rows[j][last]
        found_positions.append(position)
        last = back
    return FuzzyMatch(score, tuple(reversed(found_positions)))


# -- what the picker lists ----------------------------------------------------------------------


@dataclass(frozen=True)
class PickerEntry:
    """One choice: a built-in template or a saved event, with the text search looks at."""

    id: str
    group: str
    group_title: str
    label: str
    description: str
    template: EventTemplate | None = None
    saved: SavedEvent | None = None
    #: Searched after the label and description (service title, source words); never shown.
    extra: str = ""
    haystack: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "haystack", f"{self.label} {self.description} {self.extra}")

    @property
    def source(self) -> str:
        """`template`, `function` or `shared`."""
        return "template" if self.saved is None else self.saved.scope


@dataclass
class RankedGroup:
    """A group of entries (a service, the function's saved events, the shared ones) as listed."""

    key: str
    title: str
    entries: list[tuple[PickerEntry, FuzzyMatch]]

    @property
    def best(self) -> int:
        """The best score in the group."""
        return max(match.score for _, match in self.entries)


def build_entries(catalog: Catalog, saved: Iterable[SavedEvent], function: str | None) -> list[PickerEntry]:
    """The function's saved events, the shared ones, then every template by service."""
    entries: list[PickerEntry] = []
    for event in saved:
        if event.function is None:
            group, title, words = "shared", "Shared events (every function)", "shared saved"
        else:
            group, title, words = f"saved:{event.function}", f"Saved for {event.function}", "saved"
        where = f"saved for {event.function}" if event.function else "shared by every function"
        entries.append(
            PickerEntry(
                id=f"{event.scope}:{event.label}",
                group=group,
                group_title=title,
                label=event.label,
                description=where,
                saved=event,
                extra=words,
            )
        )
    for service in catalog.services:
        for template in service.templates:
            entries.append(
                PickerEntry(
                    id=f"template:{template.key}",
                    group=f"service:{service.key}",
                    group_title=f"{service.title}  ·  {service.key}",
                    label=template.key,
                    description=template.description,
                    template=template,
                    extra=service.title,
                )
            )
    return entries


def rank(entries: Sequence[PickerEntry], query: str) -> list[RankedGroup]:
    """Entries that match `query`, grouped; with a query, best groups and best entries first."""
    groups: dict[str, RankedGroup] = {}
    needle = fold("".join(query.split()))
    for entry in entries:
        match = fuzzy_match(query, entry.haystack)
        if match is None:
            continue
        label = fold(entry.label)
        if needle and needle in (label, label.rpartition("/")[2]):
            # Typing a name in full picks it over the longer names it is a prefix of.
            match = FuzzyMatch(match.score + _EXACT_BONUS, match.positions)
        group = groups.setdefault(entry.group, RankedGroup(entry.group, entry.group_title, []))
        group.entries.append((entry, match))
    ranked = list(groups.values())
    if "".join(query.split()):
        order = {entry.id: index for index, entry in enumerate(entries)}
        for group in ranked:
            group.entries.sort(key=lambda item: (-item[1].score, order[item[0].id]))
        ranked.sort(key=lambda group: -group.best)  # stable: ties keep saved events first
    return ranked


# -- the screen ---------------------------------------------------------------------------------

#: The label column's widest setting; longer labels push their description along.
_LABEL_WIDTH = 30
_MATCH_STYLE = "bold underline $accent"


def option_prompt(entry: PickerEntry, match: FuzzyMatch, width: int) -> Content:
    """One line: the label, then the description, with the matched characters marked."""
    label = Content.styled(entry.label, "bold")
    description = Content.styled(entry.description, "$text-muted")
    label_end = len(entry.label)
    description_start = label_end + 1
    for position in match.positions:
        if position < label_end:
            label = label.stylize(_MATCH_STYLE, position, position + 1)
        elif description_start <= position < description_start + len(entry.description):
            offset = position - description_start
            description = description.stylize(_MATCH_STYLE, offset, offset + 1)
    padding = " " * max(2, width - len(entry.label) + 2)
    return Content.assemble(label, padding, description)


class EventPickerScreen(ModalScreen[str | None]):
    """Choose an event: type to search, arrows to move, enter to choose, escape to cancel."""

    CSS_PATH = "event_picker.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="event-picker-cancel"),
        # Priority, so enter chooses while the search input has the focus.
        Binding("enter", "choose", "Choose", id="event-picker-choose", priority=True),
        Binding("down", "move(1)", "Next", id="event-picker-next", show=False),
        Binding("up", "move(-1)", "Previous", id="event-picker-previous", show=False),
        Binding("pagedown", "page(1)", "Page down", id="event-picker-page-down", show=False),
        Binding("pageup", "page(-1)", "Page up", id="event-picker-page-up", show=False),
    ]

    def __init__(self, project_dir: Path | str, function: str | None, *, query: str = "") -> None:
        super().__init__()
        self.project_dir = Path(project_dir)
        # Saved events belong to the function, whatever version or alias is selected.
        self.function = function.partition(":")[0] if function else None
        self._initial_query = query
        self._entries: list[PickerEntry] = []
        #: Option id to entry, for what is listed now.
        self._listed: dict[str, PickerEntry] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-dialog"):
            yield Input(
                self._initial_query,
                placeholder="search templates and saved events (fuzzy: s3put, sqsfifo, cognito pre)",
                id="picker-search",
            )
            options = OptionList(id="picker-list")
            # The search input keeps the focus; the screen's keys move the list's highlight.
            options.can_focus = False
            yield options
            yield Static("", id="picker-detail")
            yield Static("", id="picker-message")
        yield Footer()

    def on_mount(self) -> None:
        dialog = self.query_one("#picker-dialog")
        target = f" for {self.function}" if self.function else ""
        dialog.border_title = f"Choose an event{target}"
        self._entries = build_entries(Catalog.builtin(), self._saved_events(), self.function)
        saved = sum(1 for entry in self._entries if entry.saved is not None)
        dialog.border_subtitle = f"{len(self._entries) - saved} templates · {saved} saved"
        self._refresh_list(self._initial_query)
        self.query_one("#picker-search", Input).focus()

    def _saved_events(self) -> list[SavedEvent]:
        try:
            return EventStore(self.project_dir).events(self.function)
        except (EventError, OSError) as exc:
            self.notify(f"saved events not listed: {exc}", severity="warning")
            return []

    # -- the list -------------------------------------------------------------------------------

    @property
    def entries(self) -> list[PickerEntry]:
        """Every choice, listed or not."""
        return list(self._entries)

    @property
    def listed(self) -> list[PickerEntry]:
        """The choices listed now, in order."""
        return list(self._listed.values())

    @property
    def highlighted(self) -> PickerEntry | None:
        """The choice under the highlight."""
        options = self.query_one("#picker-list", OptionList)
        if options.highlighted is None:
            return None
        option = options.get_option_at_index(options.highlighted)
        return self._listed.get(option.id or "")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "picker-search":
            self._say("")
            self._refresh_list(event.value)

    def _refresh_list(self, query: str) -> None:
        options = self.query_one("#picker-list", OptionList)
        groups = rank(self._entries, query)
        width = min(_LABEL_WIDTH, max((len(e.label) for g in groups for e, _ in g.entries), default=0))
        self._listed = {}
        prompts: list[Option] = []
        for group in groups:
            prompts.append(
                Option(Content.styled(group.title, "bold"), id=f"group:{group.key}", disabled=True)
            )
            for entry, match in group.entries:
                self._listed[entry.id] = entry
                prompts.append(Option(option_prompt(entry, match, width), id=entry.id))
        if not prompts:
            nothing = Content(f"nothing matches {query.strip()!r}")
            prompts.append(Option(nothing, id="group:none", disabled=True))
        options.clear_options()
        options.add_options(prompts)
        first = next((index for index, option in enumerate(prompts) if not option.disabled), None)
        options.highlighted = first
        if first is not None:
            options.scroll_to(y=0, animate=False)
        self._describe(self.highlighted)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._describe(self._listed.get(event.option.id or ""))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        entry = self._listed.get(event.option.id or "")
        if entry is not None:
            self._choose(entry)

    def _describe(self, entry: PickerEntry | None) -> None:
        detail = self.query_one("#picker-detail", Static)
        if entry is None:
            detail.update("")
        elif entry.template is not None:
            template = entry.template
            names = ", ".join(param.name for param in template.params) or "none"
            detail.update(
                Content.assemble(
                    (template.description, "bold"),
                    "\n",
                    (f"{template.delivery.label}\nparameters: {names}", "$text-muted"),
                )
            )
        elif entry.saved is not None:
            path = entry.saved.path
            shown = path.relative_to(self.project_dir) if path.is_relative_to(self.project_dir) else path
            detail.update(
                Content.assemble((f"saved event {entry.label}", "bold"), "\n", (str(shown), "$text-muted"))
            )

    def _say(self, text: str) -> None:
        message = self.query_one("#picker-message", Static)
        message.update(Content(text))  # plain text: a message may hold brackets
        message.set_class(bool(text), "error")

    # -- actions --------------------------------------------------------------------------------

    def action_move(self, step: int) -> None:
        """Move the highlight to the next (1) or previous (-1) choice."""
        options = self.query_one("#picker-list", OptionList)
        if step > 0:
            options.action_cursor_down()
        else:
            options.action_cursor_up()

    def action_page(self, step: int) -> None:
        """Move the highlight a page down (1) or up (-1)."""
        options = self.query_one("#picker-list", OptionList)
        count = options.option_count
        if count == 0:
            return
        # Every option is one line, so a page of lines is a page of options.
        page = max(1, options.scrollable_content_region.height - 1)
        target = min(max((options.highlighted or 0) + step * page, 0), count - 1)
        # Land on a choice, not a group title: look on in the same direction, then back.
        for direction in (step, -step):
            index = target
            while 0 <= index < count:
                if not options.get_option_at_index(index).disabled:
                    options.highlighted = index
                    return
                index += direction

    def action_choose(self) -> None:
        """Use the highlighted choice."""
        entry = self.highlighted
        if entry is None:
            self._say("nothing to choose: change the search")
            return
        self._choose(entry)

    def action_cancel(self) -> None:
        """Close without choosing."""
        self.dismiss(None)

    def _choose(self, entry: PickerEntry) -> None:
        if entry.saved is not None:
            try:
                event = entry.saved.load()
            except EventError as exc:
                self._say(str(exc))
                return
            self.dismiss(event_json(event))
            return
        template = entry.template
        assert template is not None
        if not template.params:
            try:
                self.dismiss(event_json(template.render()))
            except ValueError as exc:
                self._say(str(exc))
            return
        self.app.push_screen(TemplateFormScreen(template), callback=self._form_closed)

    def _form_closed(self, result: str | None) -> None:
        if result is not None:
            self.dismiss(result)
