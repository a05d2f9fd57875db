"""Output caps: every kind of output (stream, display, result, display update, error) is capped
as it arrives, and the capped message is still one that nbformat turns into an output.

The end-to-end test grades a correct toy notebook (`tests/fixtures/toy`) whose answer cells show
more than 1 MiB of HTML, return a string of more than 1 MiB as a cell's last expression, update a
display with more than 1 MiB, and raise an error whose message is more than 1 MiB: it must be
graded (full marks), with the outputs truncated. Before the caps covered every kind, the rich
output failed the whole notebook (`KeyError: 'metadata'`: the truncation rewrote `msg_type` but
not the header that nbformat reads) and the update and the error were not capped at all."""

from __future__ import annotations

import pytest
import toy_class
from nbformat.v4 import output_from_msg

from autograder import testing
from autograder.execute import cap_message, truncation_note

BIG = 2 << 20  # characters: more than 1 MiB
LIMIT = 100 << 10


def message(msg_type: str, **content) -> dict:
    return {
        "msg_type": msg_type,
        "header": {"msg_type": msg_type, "msg_id": "m"},
        "parent_header": {"msg_id": "p"},
        "metadata": {},
        "content": content,
    }


def html(size: int, msg_type: str = "display_data", **extra) -> dict:
    return message(
        msg_type,
        data={"text/html": "<p>" + "x" * size + "</p>", "text/plain": "<IPython.core.display.HTML object>"},
        metadata={"isolated": True},
        **extra,
    )


def test_small_outputs_pass_and_use_the_cells_budget():
    msg = message("stream", name="stdout", text="hello")
    assert cap_message(msg, 100) == (msg, 95, False)


def test_a_stream_is_cut_to_what_is_left_then_dropped():
    capped, left, truncated = cap_message(message("stream", name="stdout", text="y" * 500), 300)
    assert (capped["content"]["text"], left, truncated) == ("y" * 300, 0, True)
    assert cap_message(message("stream", name="stdout", text="z"), 0) == (None, 0, True)


@pytest.mark.parametrize(
    "msg",
    [
        html(BIG),
        html(BIG, "execute_result", execution_count=3),
        message("execute_result", data={"text/plain": "'" + "y" * BIG}, metadata={}, execution_count=3),
    ],
)
def test_a_rich_output_keeps_its_plain_text_only_and_stays_an_output(msg):
    capped, left, truncated = cap_message(msg, LIMIT)
    assert truncated and left == 0
    assert capped["header"]["msg_type"] == msg["msg_type"] == capped["msg_type"]
    output = output_from_msg(capped)  # what failed with KeyError: 'metadata'
    assert list(output.data) == ["text/plain"] and len(output.data["text/plain"]) <= LIMIT
    assert output.metadata == {}
    if msg["msg_type"] == "execute_result":
        assert output.execution_count == 3


def test_huge_metadata_counts_too():
    msg = message("display_data", data={"text/plain": "x"}, metadata={"junk": "j" * BIG})
    capped, _, truncated = cap_message(msg, LIMIT)
    assert truncated and capped["content"]["metadata"] == {}


def test_a_display_update_is_charged_once_per_output_it_rewrites():
    msg = html(BIG, "update_display_data", transient={"display_id": "d"})
    capped, left, truncated = cap_message(msg, LIMIT, copies=4)
    assert truncated and left == 0
    size = len(capped["content"]["data"]["text/plain"])
    assert 0 < size <= LIMIT // 4
    assert capped["content"]["transient"] == {"display_id": "d"}
    capped["header"]["msg_type"] = "display_data"  # as nbclient's _update_display_id does
    assert output_from_msg(capped).data == {"text/plain": "<IPython.core.display.HTML object>"}
    assert cap_message(msg, LIMIT, copies=0) == (msg, LIMIT, False)  # an update of no output writes nothing
    assert cap_message(msg, 0, copies=1) == (None, 0, True)  # the cell's budget is spent


def test_an_error_keeps_its_name_and_the_start_of_its_message():
    msg = message(
        "error",
        ename="AssertionError",
        evalue="square(-2) is wrong " + "!" * BIG,
        traceback=["line " + "t" * BIG, "second"],
    )
    capped, left, truncated = cap_message(msg, LIMIT)  # errors have a budget of their own
    output = output_from_msg(capped)
    assert truncated and left == 0
    assert output.ename == "AssertionError" and output.evalue.startswith("square(-2) is wrong")
    assert len(output.evalue) + sum(len(line) for line in output.traceback) <= LIMIT


def test_the_truncation_note_is_a_stream_in_header_and_body():
    note = truncation_note(html(BIG), LIMIT)
    output = output_from_msg(note)
    assert output.output_type == "stream" and "output truncated by the autograder" in output.text


RICH = """from IPython.display import HTML, display, update_display

def add(a, b):
    return a + b

handle = display(HTML("<b>small</b>"), display_id=True)
handle.update(HTML("<p>" + "u" * (2 << 20) + "</p>"))
display(HTML("<p>" + "x" * (2 << 20) + "</p>"))
for _ in range(200):  # one update then rewrites 200 outputs: it is charged 200 times
    display(HTML("."), display_id="flood")
update_display(HTML("<p>" + "f" * (2 << 20) + "</p>"), display_id="flood")
"y" * (2 << 20)"""
ERROR = """def square(x):
    return x * x

raise ValueError("a long message " + "z" * (20 << 20))"""  # a 20 MB message, twice in the traceback


def test_a_correct_notebook_with_huge_rich_outputs_and_errors_is_graded(tmp_path):
    source = testing.read_notebook(toy_class.TOY / f"{toy_class.CHAPTER}.ipynb")
    testing.write_submissions(
        tmp_path / "in", {"rich": {toy_class.CHAPTER: testing.make_submission(source, {"add": RICH, "square": ERROR})}}
    )
    grades, cells, _ = testing.run_grade(
        tmp_path / "in", tmp_path / "out", toy_class.TOY, timeout=60, options=("--max-output", "100K")
    )
    row = grades["rich", toy_class.CHAPTER]
    assert (row["status"], row["score"], row["max_score"]) == ("graded", "5", "5"), row["message"]
    assert "output truncated (more than 102400 bytes) in add, square" in row["message"]
    page_path = tmp_path / "out" / "feedback" / "rich" / f"{toy_class.CHAPTER}.html"
    page = page_path.read_text()
    assert page_path.stat().st_size < 1_000_000
    assert page.count("output truncated by the autograder") == 2
    assert "ValueError" in page and "a long message zzz" in page
    assert "x" * (LIMIT + 1) not in page and "u" * (LIMIT + 1) not in page
    assert "f" * (LIMIT // 200 + 1) not in page and "z" * (LIMIT + 1) not in page
