"""The batch id rules (`batchdelete._ids`), with property-based tests: from
any mix of separators, blank lines, comments and a BOM, exactly the valid
ids come out, in order, once; anything else is refused with its line."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

import batchdelete as bd

ALNUM = string.ascii_letters + string.digits
IDS = st.builds(lambda tail: "msgbatch_" + tail, st.text(ALNUM, min_size=1, max_size=30))
# Whitespace that str.split and \s agree on, Unicode spaces included, and commas.
SPACES = st.sampled_from([" ", "\t", "\r", "\x0b", "\x0c", "\u00a0", "\u2003", "\u3000", ","])
SEPARATOR = st.text(SPACES, min_size=1, max_size=4)
PADDING = st.text(SPACES, max_size=3)
COMMENT = st.builds(
    lambda text: "#" + text, st.text(st.characters(blacklist_characters="\n"), max_size=20)
)


@st.composite
def listing(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A text as a person might write it, and the ids it holds, in order."""
    lines: list[str] = []
    ids: list[str] = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["ids", "blank", "comment"]))
        if kind == "blank":
            lines.append(draw(PADDING))
            continue
        if kind == "comment":
            lines.append(draw(PADDING) + draw(COMMENT))
            continue
        on_line = draw(st.lists(IDS, min_size=1, max_size=4))
        ids += on_line
        text = draw(PADDING)
        for i, batch_id in enumerate(on_line):
            text += (draw(SEPARATOR) if i else "") + batch_id
        text += draw(PADDING)
        if draw(st.booleans()):
            text += draw(SEPARATOR) + draw(COMMENT)  # a trailing comment
        lines.append(text)
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    bom = draw(st.sampled_from(["", "\ufeff"]))
    return bom + newline.join(lines) + draw(st.sampled_from(["", newline])), ids


@given(listing())
def test_exactly_the_valid_ids_come_out_in_order_once(case: tuple[str, list[str]]) -> None:
    text, ids = case
    assert bd.parse_batch_ids(text) == list(dict.fromkeys(ids))


TOKEN = st.text(
    st.characters(blacklist_categories=("Zs", "Cc"), blacklist_characters=",#\u2028\u2029"),
    min_size=1,
    max_size=20,
)


@given(st.lists(IDS, max_size=5), TOKEN, st.lists(IDS, max_size=3))
def test_any_other_token_is_refused_with_its_line(
    before: list[str], token: str, after: list[str]
) -> None:
    if re.fullmatch(bd.BATCH_ID_PATTERN, token):
        return  # a valid id is not a counterexample
    text = "\n".join([*before, "msgbatch_ok " + token, *after])
    with pytest.raises(bd.InvalidBatchIdError) as info:
        bd.parse_batch_ids(text, source="ids.txt")
    assert info.value.line == len(before) + 1
    assert info.value.batch_id == token
    assert f"on line {len(before) + 1} of ids.txt" in str(info.value)


@given(IDS)
def test_a_valid_id_is_accepted_as_is(batch_id: str) -> None:
    assert bd.check_batch_id(batch_id) == batch_id
    assert re.fullmatch(bd.BATCH_ID_PATTERN, batch_id)


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("", []),
        ("\ufeff", []),
        ("\ufeffmsgbatch_a\n", ["msgbatch_a"]),
        (
            "# all ids\nmsgbatch_a  # the first\n\n  msgbatch_b,msgbatch_c\n",
            ["msgbatch_a", "msgbatch_b", "msgbatch_c"],
        ),
        ("msgbatch_a msgbatch_b\tmsgbatch_a", ["msgbatch_a", "msgbatch_b"]),
        ("msgbatch_a,,, ,msgbatch_b", ["msgbatch_a", "msgbatch_b"]),
        ("msgbatch_a\r\nmsgbatch_b\r\n", ["msgbatch_a", "msgbatch_b"]),
    ],
)
def test_examples(text: str, ids: list[str]) -> None:
    assert bd.parse_batch_ids(text) == ids


@pytest.mark.parametrize(
    ("text", "line", "bad"),
    [
        ("msgbatch_a\nmsgbatch_b#not a comment\n", 2, "msgbatch_b#not"),
        ("msgbatch_a\n\nnot-an-id", 3, "not-an-id"),
        ("\ufeff\ufeffmsgbatch_a", 1, "\ufeffmsgbatch_a"),  # only one BOM is a BOM
        ("msgbatch_a;msgbatch_b", 1, "msgbatch_a;msgbatch_b"),
    ],
)
def test_refusals_name_the_token_and_line(text: str, line: int, bad: str) -> None:
    with pytest.raises(bd.InvalidBatchIdError) as info:
        bd.parse_batch_ids(text)
    assert (info.value.line, info.value.batch_id) == (line, bad)
    assert repr(bad) in str(info.value)
