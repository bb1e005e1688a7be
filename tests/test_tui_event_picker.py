"""The event picker, the template form and the save dialog, driven by Textual's pilot on a LambenchApp."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, OptionList, Static

from lambench.core.events import Catalog, EventStore, SavedEvent
from lambench.tui.app import LambenchApp
from lambench.tui.event_form import SaveEventScreen, TemplateFormScreen
from lambench.tui.event_picker import EventPickerScreen, build_entries, fuzzy_match, rank
from lambench.tui.widgets import FunctionsPanel
from tests.helpers import copy_demo
from tests.tui_helpers import demo_opener, wait_until

Scenario = Callable[[LambenchApp, Pilot[None], Path], Awaitable[None]]


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    return copy_demo(tmp_path)


def run_app(project_dir: Path, scenario: Scenario, size: tuple[int, int] = (100, 32)) -> None:
    """Run `scenario` on a LambenchApp over the demo project, once its backend is open."""

    async def main() -> None:
        app = LambenchApp(demo_opener(project_dir))
        async with app.run_test(size=size) as pilot:
            await wait_until(pilot, lambda: app.query_one(FunctionsPanel).selected is not None)
            await scenario(app, pilot, project_dir)

    asyncio.run(main())


async def open_picker(
    app: LambenchApp, pilot: Pilot[None], project_dir: Path, function: str | None
) -> tuple[EventPickerScreen, list[str | None]]:
    results: list[str | None] = []
    picker = EventPickerScreen(project_dir, function)
    app.push_screen(picker, callback=results.append)
    await wait_until(pilot, lambda: app.screen is picker and bool(picker.listed))
    return picker, results


def text_of(widget: Static) -> str:
    return str(widget.render())


# -- fuzzy matching -----------------------------------------------------------------------------


def test_fuzzy_match_needs_every_character_in_order() -> None:
    assert fuzzy_match("s3put", "s3/object-created (PUT, POST)") is not None
    assert fuzzy_match("tups3", "s3/object-created (PUT, POST)") is None
    assert fuzzy_match("xyz", "s3/object-created") is None
    assert fuzzy_match("", "anything") is not None
    assert fuzzy_match("  ", "anything") is not None


def test_fuzzy_match_ignores_case_and_spaces_and_finds_the_best_alignment() -> None:
    match = fuzzy_match("S3 put", "s3/object-created An object was created (PUT, POST)")
    assert match is not None
    text = "s3/object-created An object was created (PUT, POST)"
    # "put" lands on the word PUT, not on letters scattered earlier.
    assert [text[p] for p in match.positions] == ["s", "3", "P", "U", "T"]
    assert match.positions[2] == text.index("PUT")


def test_fuzzy_scores_prefer_word_starts_and_runs() -> None:
    start = fuzzy_match("rec", "sqs/receive-message")
    middle = fuzzy_match("rec", "sqs/directory")
    scattered = fuzzy_match("rec", "sqs/rxxexxc")
    assert start is not None and middle is not None and scattered is not None
    assert start.score > middle.score > scattered.score
    run = fuzzy_match("fifo", "sqs/receive-message-fifo")
    spread = fuzzy_match("fifo", "firehose/kinesis-stream-source find out")
    assert run is not None and spread is not None and run.score > spread.score


def test_rank_groups_by_service_and_puts_the_best_match_first(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    store.save("upload", {"a": 1}, function="hello")
    store.save("ping", {"b": 2})
    entries = build_entries(Catalog.builtin(), store.events("hello"), "hello")
    everything = rank(entries, "")
    assert [group.key for group in everything[:3]] == ["saved:hello", "shared", "service:alb"]
    assert sum(len(group.entries) for group in everything) == len(entries)
    ranked = rank(entries, "s3put")
    assert ranked[0].key == "service:s3"
    assert ranked[0].entries[0][0].label == "s3/object-created"
    assert rank(entries, "sqsfifo")[0].entries[0][0].label == "sqs/receive-message-fifo"
    assert rank(entries, "upload")[0].entries[0][0].label == "hello/upload"
    # A name typed in full beats the longer names it begins.
    assert rank(entries, "receive-message")[0].entries[0][0].label == "sqs/receive-message"
    assert rank(entries, "sqs/receive-message")[0].entries[0][0].label == "sqs/receive-message"
    assert rank(entries, "qqqqzz") == []


# -- the picker ---------------------------------------------------------------------------------


def test_pick_a_template_by_fuzzy_search_fill_a_parameter_and_get_the_json(project_dir: Path) -> None:
    async def scenario(app: LambenchApp, pilot: Pilot[None], project_dir: Path) -> None:
        picker, results = await open_picker(app, pilot, project_dir, "s3-processor")
        await pilot.press(*"s3put")
        await wait_until(
            pilot, lambda: picker.highlighted is not None and picker.highlighted.source == "template"
        )
        highlighted = picker.highlighted
        assert highlighted is not None and highlighted.label == "s3/object-created"
        assert "An object was created" in text_of(picker.query_one("#picker-detail", Static))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, TemplateFormScreen))
        form = app.screen
        assert isinstance(form, TemplateFormScreen)
        key = form.query_one("#param-key", Input)
        assert key.value == "uploads/2024/photo 1.jpg"  # the default is shown, ready to edit
        # Keys only: the first field has the focus, down moves to the next one.
        await wait_until(pilot, lambda: app.focused is form.query_one("#param-bucket", Input))
        await pilot.press("down")
        await wait_until(pilot, lambda: app.focused is key)
        await pilot.press("end", "ctrl+u", *"cats/tom.jpg")
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(results))
        assert app.screen is not form and app.screen is not picker
        text = results[0]
        assert text is not None
        assert text.startswith('{\n  "Records": [')  # pretty, indented by two
        record = json.loads(text)["Records"][0]
        assert record["s3"]["object"]["key"] == "cats/tom.jpg"
        assert record["s3"]["bucket"]["name"] == "amzn-s3-demo-bucket"

    run_app(project_dir, scenario)


def test_a_bad_parameter_value_shows_the_templates_error_and_keeps_the_form(project_dir: Path) -> None:
    async def scenario(app: LambenchApp, pilot: Pilot[None], project_dir: Path) -> None:
        picker, results = await open_picker(app, pilot, project_dir, None)
        await pilot.press(*"sqs/receive-message")
        await wait_until(pilot, lambda: picker.highlighted is not None)
        assert picker.highlighted is not None
        assert picker.highlighted.label == "sqs/receive-message"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, TemplateFormScreen))
        form = app.screen
        assert isinstance(form, TemplateFormScreen)
        records = form.query_one("#param-records", Input)
        records.focus()
        await pilot.press("end", "ctrl+u", *"many")
        error = form.query_one("#form-error", Static)
        await wait_until(pilot, lambda: "records" in text_of(error))
        assert text_of(error) == "parameter records takes a whole number, not 'many'"
        assert records.has_class("invalid")
        await pilot.press("enter")  # refused: the form stays, nothing is returned
        await pilot.pause()
        assert app.screen is form and results == []
        assert text_of(error) == "parameter records takes a whole number, not 'many'"
        # Another field typed in correctly does not hide the wrong one.
        body = form.query_one("#param-body", Input)
        await pilot.press("up", "end", *" x")
        await wait_until(pilot, lambda: body.value.endswith(" x"))
        assert text_of(error) == "parameter records takes a whole number, not 'many'"
        await pilot.press("down")
        await wait_until(pilot, lambda: app.focused is records)
        # Messages are plain text: brackets in a value are not markup.
        attributes = form.query_one("#param-attributes", Input)
        await pilot.press("down")
        await wait_until(pilot, lambda: app.focused is attributes)
        await pilot.press("end", "ctrl+u", *"[1]")
        await wait_until(pilot, lambda: "attributes" in text_of(error))
        assert text_of(error) == "parameter attributes takes an object, not '[1]'"
        await pilot.press("ctrl+u", *"{}", "up")
        await wait_until(pilot, lambda: app.focused is records)
        # Out of range is the template's own message too.
        await pilot.press("ctrl+u", *"0")
        await wait_until(pilot, lambda: "at least" in text_of(error))
        assert app.screen is form
        await pilot.press("ctrl+u", *"3")
        await wait_until(pilot, lambda: text_of(error) == "")
        assert not records.has_class("invalid")
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(results))
        text = results[0]
        assert text is not None
        rendered = json.loads(text)["Records"]
        assert len(rendered) == 3
        assert rendered[0]["body"] == '{"orderId": "1234", "amount": 42.5} x'

    run_app(project_dir, scenario)


def test_escape_in_the_form_goes_back_to_the_picker_and_escape_there_returns_none(project_dir: Path) -> None:
    async def scenario(app: LambenchApp, pilot: Pilot[None], project_dir: Path) -> None:
        picker, results = await open_picker(app, pilot, project_dir, "hello")
        await pilot.press(*"kafka")
        await wait_until(pilot, lambda: picker.highlighted is not None)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, TemplateFormScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is picker)
        assert results == []
        assert picker.query_one("#picker-search", Input).value == "kafka"
        await pilot.press("escape")
        await wait_until(pilot, lambda: bool(results))
        assert results == [None]
        assert app.screen is not picker

    run_app(project_dir, scenario)


def test_saved_events_are_listed_with_their_source_and_can_be_chosen(project_dir: Path) -> None:
    store = EventStore(project_dir)
    own = {"name": "Ada", "tags": ["ü", 1]}
    store.save("greet-ada", own, function="hello")
    store.save("ping", {"ping": True})
    store.save("other", {"x": 1}, function="orders")  # another function's: not offered

    async def scenario(app: LambenchApp, pilot: Pilot[None], project_dir: Path) -> None:
        # A qualifier (version or alias) does not matter: saved events belong to the function.
        picker, results = await open_picker(app, pilot, project_dir, "hello:$LATEST")
        assert picker.function == "hello"
        options = picker.query_one("#picker-list", OptionList)
        listed = picker.listed
        assert [entry.label for entry in listed[:2]] == ["hello/greet-ada", "shared/ping"]
        assert [entry.source for entry in listed[:2]] == ["function", "shared"]
        assert "orders/other" not in [entry.label for entry in listed]
        headers = [str(option.prompt) for option in options.options if option.disabled]
        assert headers[:2] == ["Saved for hello", "Shared events (every function)"]
        # Arrow keys move through the list; the highlight starts on the first saved event.
        assert picker.highlighted is not None and picker.highlighted.label == "hello/greet-ada"
        await pilot.press("down")
        assert picker.highlighted is not None and picker.highlighted.label == "shared/ping"
        await pilot.press("up")
        assert picker.highlighted is not None and picker.highlighted.label == "hello/greet-ada"
        await pilot.press(*"ada")
        await wait_until(
            pilot, lambda: picker.highlighted is not None and picker.highlighted.saved is not None
        )
        assert picker.highlighted is not None and picker.highlighted.label == "hello/greet-ada"
        assert ".lambench/events/hello/greet-ada.json" in text_of(picker.query_one("#picker-detail", Static))
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(results))
        assert results == [json.dumps(own, indent=2, ensure_ascii=False)]

    run_app(project_dir, scenario)


def test_a_broken_saved_event_is_reported_in_the_picker(project_dir: Path) -> None:
    folder = project_dir / ".lambench" / "shared-events"
    folder.mkdir(parents=True)
    (folder / "broken.json").write_text('{"a": ')

    async def scenario(app: LambenchApp, pilot: Pilot[None], project_dir: Path) -> None:
        picker, results = await open_picker(app, pilot, project_dir, "hello")
        assert picker.highlighted is not None and picker.highlighted.label == "shared/broken"
        await pilot.press("enter")
        message = picker.query_one("#picker-message", Static)
        await wait_until(pilot, lambda: "not valid JSON" in text_of(message))
        assert "broken.json:1:" in text_of(message)
        assert app.screen is picker and results == []

    run_app(project_dir, scenario)


def test_page_keys_move_by_a_page_and_a_click_chooses(project_dir: Path) -> None:
    EventStore(project_dir).save("ping", {"ping": True})

    async def scenario(app: LambenchApp, pilot: Pilot[None], project_dir: Path) -> None:
        picker, results = await open_picker(app, pilot, project_dir, "hello")
        options = picker.query_one("#picker-list", OptionList)
        assert options.highlighted == 1  # under the "Shared events" title
        await pilot.press("pagedown")
        first_page = options.highlighted
        assert first_page is not None and first_page > 5
        assert not options.get_option_at_index(first_page).disabled
        await pilot.press("pagedown", "pagedown", "pagedown", "pagedown", "pagedown", "pagedown")
        assert options.highlighted is not None and options.highlighted > first_page
        for _ in range(20):
            await pilot.press("pageup")
        assert options.highlighted == 1
        # The list does not take the focus, but the mouse still chooses: line 1 is shared/ping.
        await pilot.click(OptionList, offset=(4, 1 - options.scroll_offset.y))
        await wait_until(pilot, lambda: bool(results))
        assert results == [json.dumps({"ping": True}, indent=2)]

    run_app(project_dir, scenario)


def test_the_picker_can_open_with_a_query(project_dir: Path) -> None:
    async def scenario(app: LambenchApp, pilot: Pilot[None], project_dir: Path) -> None:
        results: list[str | None] = []
        picker = EventPickerScreen(project_dir, None, query="sqsfifo")
        app.push_screen(picker, callback=results.append)
        await wait_until(pilot, lambda: app.screen is picker and bool(picker.listed))
        assert picker.query_one("#picker-search", Input).value == "sqsfifo"
        assert picker.highlighted is not None
        assert picker.highlighted.label == "sqs/receive-message-fifo"
        assert picker.query_one("#picker-list", OptionList).option_count < len(picker.entries)

    run_app(project_dir, scenario)


def test_a_query_that_matches_nothing_says_so(project_dir: Path) -> None:
    async def scenario(app: LambenchApp, pilot: Pilot[None], project_dir: Path) -> None:
        picker, results = await open_picker(app, pilot, project_dir, None)
        await pilot.press(*"[qqzzqq]")
        await wait_until(pilot, lambda: not picker.listed)
        options = picker.query_one("#picker-list", OptionList)
        assert [str(option.prompt) for option in options.options] == ["nothing matches '[qqzzqq]'"]
        await pilot.press("enter")
        assert "nothing to choose" in text_of(picker.query_one("#picker-message", Static))
        assert app.screen is picker and results == []

    run_app(project_dir, scenario)


def test_the_picker_is_usable_at_80x24(project_dir: Path) -> None:
    async def scenario(app: LambenchApp, pilot: Pilot[None], project_dir: Path) -> None:
        picker, _ = await open_picker(app, pilot, project_dir, "hello")
        options = picker.query_one("#picker-list", OptionList)
        assert options.region.height >= 8
        assert picker.query_one("#picker-search", Input).region.height == 1
        assert picker.query_one("#picker-detail", Static).region.height == 3
        await pilot.press(*"s3put", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, TemplateFormScreen))
        form = app.screen
        assert isinstance(form, TemplateFormScreen)
        assert form.query_one("#param-bucket", Input).region.height == 1
        fields = form.query_one("#form-fields")
        assert fields.region.height >= 8
        # The last field is below the fold; moving the focus there scrolls it into view.
        last = form.query_one("#param-time", Input)
        assert not fields.region.contains_region(last.region)
        for _ in form.template.all_params[1:]:
            await pilot.press("down")
        await wait_until(pilot, lambda: app.focused is last and fields.region.contains_region(last.region))

    run_app(project_dir, scenario, size=(80, 24))


# -- saving -------------------------------------------------------------------------------------


async def open_save(
    app: LambenchApp, pilot: Pilot[None], project_dir: Path, function: str | None, text: str
) -> tuple[SaveEventScreen, list[SavedEvent | None]]:
    results: list[SavedEvent | None] = []
    screen = SaveEventScreen(project_dir, function, text)
    app.push_screen(screen, callback=results.append)
    await wait_until(pilot, lambda: app.screen is screen and bool(screen.query("#save-error")))
    await wait_until(pilot, lambda: app.focused is screen.query_one("#save-name"))
    return screen, results


def test_save_an_event_for_the_function_where_the_store_finds_it(project_dir: Path) -> None:
    event: dict[str, Any] = {"name": "Grace", "n": 2}

    async def scenario(app: LambenchApp, pilot: Pilot[None], project_dir: Path) -> None:
        screen, results = await open_save(app, pilot, project_dir, "hello:live", json.dumps(event))
        await pilot.press(*"grace-2", "enter")
        await wait_until(pilot, lambda: bool(results))
        saved = results[0]
        assert saved is not None and saved.label == "hello/grace-2"
        assert app.screen is not screen

    run_app(project_dir, scenario)
    found = EventStore(project_dir).find("grace-2", "hello")
    assert found.function == "hello"
    assert found.path == project_dir / ".lambench" / "events" / "hello" / "grace-2.json"
    assert found.load() == event


def test_save_refuses_a_bad_name_and_an_existing_one_with_the_stores_message(project_dir: Path) -> None:
    EventStore(project_dir).save("taken", {"old": True}, function="hello")

    async def scenario(app: LambenchApp, pilot: Pilot[None], project_dir: Path) -> None:
        screen, results = await open_save(app, pilot, project_dir, "hello", '{"new": true}')
        error = screen.query_one("#save-error", Static)
        await pilot.press(*"bad name!", "enter")
        await wait_until(pilot, lambda: "bad event name" in text_of(error))
        assert text_of(error).startswith("bad event name 'bad name!': use up to 100 letters")
        assert app.screen is screen and results == []
        name = screen.query_one("#save-name", Input)
        await pilot.press("ctrl+u", *"taken", "enter")
        await wait_until(pilot, lambda: "already exists" in text_of(error))
        assert app.screen is screen and results == []
        screen.query_one("#save-overwrite", Checkbox).value = True
        name.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(results))

    run_app(project_dir, scenario)
    assert EventStore(project_dir).get("taken", "hello").load() == {"new": True}


def test_save_refuses_invalid_json_and_can_save_shared(project_dir: Path) -> None:
    async def scenario(app: LambenchApp, pilot: Pilot[None], project_dir: Path) -> None:
        screen, results = await open_save(app, pilot, project_dir, "hello", '{"a": ')
        error = screen.query_one("#save-error", Static)
        assert "not valid JSON" in text_of(error)
        await pilot.press(*"half", "enter")
        await pilot.pause()
        assert app.screen is screen and results == []
        await pilot.press("escape")
        await wait_until(pilot, lambda: bool(results))
        assert results == [None]

        screen, results = await open_save(app, pilot, project_dir, "hello", '{"b": 1}')
        screen.query_one("#save-shared", Checkbox).value = True
        await pilot.press(*"everyone", "enter")
        await wait_until(pilot, lambda: bool(results))
        saved = results[0]
        assert saved is not None and saved.label == "shared/everyone"

    run_app(project_dir, scenario)
    assert not (project_dir / ".lambench" / "shared-events" / "half.json").exists()
    assert EventStore(project_dir).find("everyone", "orders").load() == {"b": 1}
