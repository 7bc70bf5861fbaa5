"""``StreamedText`` and the live row it feeds: a reply streaming in is kept in pieces, its tail
read without joining it, and the whole text joined only when asked."""

from __future__ import annotations

import threading

from rich.console import Console

from looplet_core import Event, EventKind, Step
from looplet_tui.live.history import RunHistory
from looplet_tui.live.runstate import Live
from looplet_tui.live.stream import PIECE, StreamedText
from looplet_tui.text.render import response_renderable


def streamed(*deltas: str) -> StreamedText:
    text = StreamedText()
    for delta in deltas:
        text.append(delta)
    return text


def test_appended_deltas_join_to_the_whole_text() -> None:
    deltas = ["Hello", ", ", "world", "!"] + [f"line {i}\n" for i in range(500)]
    text = streamed(*deltas)
    assert str(text) == "".join(deltas)
    assert len(text) == len("".join(deltas))
    assert text


def test_an_empty_text_is_falsy_and_empty_deltas_change_nothing() -> None:
    text = streamed("", "")
    assert not text and len(text) == 0 and str(text) == "" and text.pieces == 0
    assert text.tail(10) == ("", 0)
    text.append("ab")
    text.append("")
    assert str(text) == "ab" and len(text) == 2 and text.pieces == 1


def test_a_text_made_from_a_string_holds_it() -> None:
    text = StreamedText("start")
    text.append(" more")
    assert str(text) == "start more" and len(text) == 10
    assert str(StreamedText("")) == "" and not StreamedText("")


def test_tail_spans_pieces_and_counts_what_comes_before() -> None:
    whole = "".join(chr(ord("a") + i % 26) * 700 for i in range(40))  # 700-char deltas
    text = streamed(*(whole[i : i + 700] for i in range(0, len(whole), 700)))
    assert text.pieces > 2
    for limit in (1, 699, 700, 701, 1500, 2 * PIECE + 3, len(whole) - 1):
        tail, before = text.tail(limit)
        assert tail == whole[-limit:]
        assert before == len(whole) - limit
    assert text.tail(len(whole)) == (whole, 0)
    assert text.tail(10 * len(whole)) == (whole, 0)
    assert text.tail(0) == ("", len(whole))


def test_tail_and_join_count_characters_not_bytes() -> None:
    deltas = ["héllo ", "wörld ", "日本語", "🙂🙂", "ﬁ", "e\u0301"]
    text = streamed(*deltas)
    whole = "".join(deltas)
    assert str(text) == whole and len(text) == len(whole)
    assert text.tail(3) == (whole[-3:], len(whole) - 3)
    assert text.tail(5)[0] == "🙂🙂ﬁe\u0301"  # code points: the accent is one of them


def test_token_sized_deltas_are_merged_into_few_pieces() -> None:
    # Most providers stream a token at a time: a piece per delta would cost far more than the
    # text itself, so small deltas are merged until a piece holds PIECE characters.
    text = streamed(*(["tok "] * 10_000))
    assert str(text) == "tok " * 10_000
    assert text.pieces <= len(text) // PIECE + 1
    assert text.tail(5) == (" tok ", len(text) - 5)


def test_large_deltas_are_kept_as_they_came() -> None:
    text = streamed(*(["x" * 1500] * 8))
    assert text.pieces == 8  # no merging (nor its copying) for deltas a piece long already
    assert len(text) == 12_000


def test_the_joined_text_is_kept_until_the_next_delta() -> None:
    text = streamed("a" * 3000, "b" * 3000)
    first = str(text)
    assert str(text) is first  # joined once, not per call
    text.append("c")
    again = str(text)
    assert again == first + "c" and again is not first
    text.append("d")  # merged into the last piece: the same piece count, a longer text
    assert str(text) == first + "cd"


def test_a_reader_sees_a_consistent_text_while_the_writer_appends() -> None:
    text = StreamedText()
    deltas = [f"<{i}>" for i in range(20_000)]
    whole = "".join(deltas)
    done = threading.Event()
    seen: list[tuple[str, int, str]] = []

    def write() -> None:
        for delta in deltas:
            text.append(delta)
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    while not done.is_set():
        tail, before = text.tail(50)
        seen.append((tail, before, str(text)))
    writer.join()
    for tail, before, joined in seen:
        # every read is the text as it was at one moment: a prefix of the whole, its tail
        # the end of that prefix
        assert whole[before : before + len(tail)] == tail
        assert whole.startswith(joined)
    assert str(text) == whole


def history_with_live() -> RunHistory:
    history = RunHistory(window=None, tool_schemas=[], clock=lambda: 0.0, on_change=None)
    history.live = Live(Step(number=1))
    return history


def delta(kind: str, text: str) -> Event:
    return Event(EventKind.LLM_DELTA, data={"call": 1, "kind": kind, "text": text})


def test_reasoning_and_text_deltas_go_to_their_own_streams() -> None:
    history = history_with_live()
    for event in (
        delta("reasoning", "let me "),
        delta("text", "The answer"),
        delta("reasoning", "think"),
        delta("text", " is 42."),
    ):
        history.on_event(event)
    live = history.live
    assert live is not None
    assert str(live.reasoning) == "let me think"
    assert str(live.text) == "The answer is 42."
    assert live.revision == 4


def test_a_new_model_call_starts_both_streams_afresh() -> None:
    history = history_with_live()
    history.on_event(delta("text", "first reply"))
    history.on_event(delta("reasoning", "first thoughts"))
    live = history.live
    assert live is not None
    before = live.text
    history.on_event(Event(EventKind.LLM_START, data={}))
    assert not live.text and not live.reasoning
    assert str(before) == "first reply"  # a reader still holding the old stream keeps it


def rendered(row: Live, tail: int) -> str:
    console = Console(width=80, record=True, color_system=None)
    console.print(response_renderable(row, tail=tail))
    return console.export_text()


def test_the_live_response_shows_the_tail_and_counts_the_rest() -> None:
    history = history_with_live()
    for i in range(2000):
        history.on_event(delta("text", f"chunk {i:04d} "))
    live = history.live
    assert live is not None
    shown = rendered(live, tail=300)
    assert "chunk 1999 ▍" in shown
    assert "chunk 0000" not in shown and "chunk 1900" not in shown
    assert f"… {len(live.text) - 300:,} earlier characters not shown" in shown


def test_a_short_live_response_is_shown_whole_without_a_note() -> None:
    history = history_with_live()
    history.on_event(delta("reasoning", "hmm"))
    history.on_event(delta("text", "short"))
    live = history.live
    assert live is not None
    shown = rendered(live, tail=300)
    assert "hmm" in shown and "short▍" in shown and "not shown" not in shown


def test_the_live_tail_stays_literal_and_safe() -> None:
    history = history_with_live()
    history.on_event(delta("text", "x" * 5000))
    history.on_event(delta("text", "[bold red]not markup[/] \x1b[31mred\x07 \u202eevil"))
    live = history.live
    assert live is not None
    shown = rendered(live, tail=60)
    assert "[bold red]not markup[/]" in shown
    assert "␛[31m" in shown and "␇" in shown and "<U+202E>" in shown
    assert "\x1b" not in shown and "\u202e" not in shown
