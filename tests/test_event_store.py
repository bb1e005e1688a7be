"""Saved events: files in the project that are always valid JSON and never clobbered silently."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from lambench.core.events.store import EventStore, EventStoreError


@pytest.fixture()
def store(tmp_path: Path) -> EventStore:
    return EventStore(tmp_path)


def test_save_writes_pretty_json_in_the_function_folder(store: EventStore, tmp_path: Path) -> None:
    saved = store.save("big-order", {"amount": 1e3, "name": "ünï"}, function="orders")
    assert saved.path == tmp_path / ".lambench/events/orders/big-order.json"
    text = saved.path.read_text(encoding="utf-8")
    assert text.endswith("}\n") and "ünï" in text and text.startswith("{\n  ")
    assert json.loads(text) == {"amount": 1000.0, "name": "ünï"}
    assert stat.S_IMODE(saved.path.stat().st_mode) == 0o644
    assert saved.load() == {"amount": 1000.0, "name": "ünï"}


def test_shared_events_live_in_their_own_folder(store: EventStore, tmp_path: Path) -> None:
    saved = store.save("smoke", [1, 2], function=None)
    assert saved.path == tmp_path / ".lambench/shared-events/smoke.json"
    assert saved.label == "shared/smoke" and saved.scope == "shared"


def test_save_never_replaces_without_overwrite(store: EventStore) -> None:
    store.save("e", {"v": 1}, function="fn")
    with pytest.raises(EventStoreError, match="saved event fn/e already exists"):
        store.save("e", {"v": 2}, function="fn")
    assert store.get("e", "fn").load() == {"v": 1}
    store.save("e", {"v": 2}, function="fn", overwrite=True)
    assert store.get("e", "fn").load() == {"v": 2}


def test_no_temporary_files_are_left_behind(store: EventStore) -> None:
    store.save("e", {"v": 1}, function="fn")
    with pytest.raises(EventStoreError):
        store.save("e", {"v": 2}, function="fn")
    store.save("e", {"v": 3}, function="fn", overwrite=True)
    assert sorted(os.listdir(store.folder("fn"))) == ["e.json"]


def test_concurrent_saves_of_one_name_have_one_winner(store: EventStore) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def save(value: int) -> None:
        barrier.wait()
        try:
            store.save("race", {"v": value}, function="fn")
            outcomes.append("saved")
        except EventStoreError:
            outcomes.append("refused")

    threads = [threading.Thread(target=save, args=(value,)) for value in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 7 + ["saved"]
    assert store.get("race", "fn").load()["v"] in range(8)


def test_unserialisable_events_write_nothing(store: EventStore) -> None:
    with pytest.raises(EventStoreError, match="cannot be saved as JSON"):
        store.save("bad", {"v": float("nan")}, function="fn")
    with pytest.raises(EventStoreError, match="cannot be saved as JSON"):
        store.save("bad", {"v": object()}, function="fn")
    assert not store.folder("fn").exists() or not any(store.folder("fn").iterdir())


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "../up", "x" * 101, "sp ace", "ünï"])
def test_bad_names_are_refused(store: EventStore, name: str) -> None:
    with pytest.raises(EventStoreError, match="bad event name"):
        store.save(name, {}, function="fn")


def test_bad_function_names_are_refused(store: EventStore) -> None:
    with pytest.raises(EventStoreError, match="bad function name"):
        store.save("e", {}, function="../escape")


def test_a_trailing_json_suffix_is_dropped(store: EventStore) -> None:
    assert store.save("e.json", {}, function="fn").name == "e"


def test_list_shows_the_functions_events_then_the_shared_ones(store: EventStore) -> None:
    store.save("b", {}, function="fn")
    store.save("a", {}, function="fn")
    store.save("other", {}, function="other-fn")
    store.save("s", {}, function=None)
    assert [event.label for event in store.events("fn")] == ["fn/a", "fn/b", "shared/s"]
    assert [event.label for event in store.events(all_functions=True)] == [
        "fn/a",
        "fn/b",
        "other-fn/other",
        "shared/s",
    ]
    assert [event.label for event in EventStore(store.project_dir / "nowhere").events("fn")] == []


def test_find_prefers_the_functions_own_event_over_a_shared_one(store: EventStore) -> None:
    store.save("e", {"from": "shared"}, function=None)
    assert store.find("e", "fn").load() == {"from": "shared"}
    store.save("e", {"from": "fn"}, function="fn")
    assert store.find("e", "fn").load() == {"from": "fn"}
    with pytest.raises(EventStoreError, match=r"no saved event 'x' for fn or shared; saved events are: e, e"):
        store.find("x", "fn")


def test_rename_keeps_the_content_and_never_clobbers(store: EventStore) -> None:
    store.save("a", {"v": "a"}, function="fn")
    store.save("b", {"v": "b"}, function="fn")
    with pytest.raises(EventStoreError, match="fn/b already exists"):
        store.rename("a", "b", function="fn")
    assert store.get("a", "fn").load() == {"v": "a"} and store.get("b", "fn").load() == {"v": "b"}
    renamed = store.rename("a", "c", function="fn")
    assert renamed.load() == {"v": "a"}
    assert [event.name for event in store.events("fn")] == ["b", "c"]
    store.rename("c", "b", function="fn", overwrite=True)
    assert [event.name for event in store.events("fn")] == ["b"] and store.get("b", "fn").load() == {"v": "a"}


def test_delete_removes_only_that_file(store: EventStore) -> None:
    store.save("a", {}, function="fn")
    store.save("a", {}, function=None)
    assert store.delete("a", function="fn").label == "fn/a"
    assert [event.label for event in store.events("fn")] == ["shared/a"]
    with pytest.raises(EventStoreError, match="no saved event fn/a"):
        store.delete("a", function="fn")


def test_a_hand_edited_broken_file_is_reported_with_its_position(store: EventStore) -> None:
    saved = store.save("e", {}, function="fn")
    saved.path.write_text('{\n  "a": 1,\n}\n', encoding="utf-8")
    with pytest.raises(EventStoreError, match=r"e.json:3:1: not valid JSON"):
        saved.load()
