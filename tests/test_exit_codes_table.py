"""The exit codes are one table, `batchdelete.cli._exits.EXIT_CODES`: the
README's "Exit codes" table says the same (read as Markdown), `--help`'s
epilog is built from it, and every `EXIT_*` constant is in it.

Meanings are matched after normalizing what Markdown does not show: runs
of white space, a trailing full stop, and `\\|` (a pipe inside a cell)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from batchdelete.cli import _exits
from batchdelete.cli._parser import build_parser

README = Path(__file__).resolve().parent.parent / "README.md"
HEADER = ("code", "meaning")
CELL_SEPARATOR = re.compile(r"(?<!\\)\|")
DELIMITER_CELL = re.compile(r":?-{3,}:?")


def cells(line: str) -> list[str]:
    """The cells of one Markdown table row."""
    inner = line.strip()
    inner = inner.removeprefix("|")
    if inner.endswith("|") and not inner.endswith("\\|"):
        inner = inner[:-1]
    return [cell.strip().replace("\\|", "|") for cell in CELL_SEPARATOR.split(inner)]


def markdown_table(text: str, header: tuple[str, ...]) -> list[list[str]]:
    """The body rows of the table in `text` whose header row is `header`
    (its cells compared case-insensitively)."""
    lines = text.splitlines()
    for at, line in enumerate(lines):
        if line.lstrip().startswith("|") and tuple(c.lower() for c in cells(line)) == header:
            break
    else:
        raise AssertionError(f"no table with the header {header} in the text")
    delimiter = cells(lines[at + 1]) if at + 1 < len(lines) else []
    assert len(delimiter) == len(header) and all(DELIMITER_CELL.fullmatch(c) for c in delimiter), (
        "the header row is not followed by a delimiter row"
    )
    rows = []
    for line in lines[at + 2 :]:
        if not line.lstrip().startswith("|"):
            break
        row = cells(line)
        assert len(row) == len(header), f"a row of {len(row)} cells: {line!r}"
        rows.append(row)
    return rows


def normalized(meaning: str) -> str:
    return " ".join(meaning.split()).removesuffix(".")


def readme_exit_codes() -> dict[int, str]:
    """The README's exit-code table: code -> meaning (in the README's order)."""
    table: dict[int, str] = {}
    for code, meaning in markdown_table(README.read_text(encoding="utf-8"), HEADER):
        assert code.isdigit(), f"not an exit code: {code!r}"
        assert int(code) not in table, f"exit code {code} is in the README twice"
        table[int(code)] = meaning
    return table


def test_the_readme_table_has_the_clis_codes_and_meanings() -> None:
    readme = readme_exit_codes()
    ours = {code: meaning for code, _, meaning in _exits.EXIT_CODES}
    assert sorted(set(ours) - set(readme)) == [], "exit codes the README leaves out"
    assert sorted(set(readme) - set(ours)) == [], "exit codes the CLI does not have"
    differ = {
        code: (readme[code], meaning)
        for code, meaning in ours.items()
        if normalized(readme[code]) != normalized(meaning)
    }
    assert differ == {}, "meanings that differ (README, CLI)"
    assert list(readme) == list(ours), "the README lists the codes in another order"


def test_help_and_the_constants_follow_the_table() -> None:
    epilog = build_parser().epilog or ""
    for code, word, _ in _exits.EXIT_CODES:
        assert f"{code} {word}" in epilog
    defined = {v for k, v in vars(_exits).items() if k.startswith("EXIT_") and isinstance(v, int)}
    assert defined == {code for code, _, _ in _exits.EXIT_CODES}


def test_markdown_cells_and_tables() -> None:
    assert cells("| 2 | usage: `a \\| b` |") == ["2", "usage: `a | b`"]
    text = "intro\n\n| Code | Meaning |\n|:---|---:|\n| 0 | done |\n| 1 | bug |\n\nafter | x |\n"
    assert markdown_table(text, HEADER) == [["0", "done"], ["1", "bug"]]
    with pytest.raises(AssertionError, match="delimiter"):
        markdown_table("| code | meaning |\n| 0 | done |\n", HEADER)
    assert normalized("done:  every\n batch.") == "done: every batch"
