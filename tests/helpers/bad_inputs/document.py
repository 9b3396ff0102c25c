"""The corpus table of ``docs/bad-inputs.md``: one row a case with its outcome, generated from ``CASES`` and written
between the document's markers."""

from __future__ import annotations

from helpers import REPO_ROOT
from helpers.bad_inputs.corpus import CASES


def markdown_table() -> str:
    from countxplain.errors import shown_path

    counts = {expect: sum(c.expect == expect for c in CASES) for expect in ("refused", "counted", "ignored")}
    lines = [f"{len(CASES)} cases: {counts['refused']} refused in one line, {counts['counted']} counted, "
             f"{counts['ignored']} passed by in a folder walk.", "",
             "| # | group | file name | what it is | outcome |", "|---|---|---|---|---|"]
    for number, item in enumerate(CASES, 1):
        outcome = item.expect + (f": \"…{item.words}…\"" if item.words else "")
        if item.named:
            outcome += " (given by name)"
        name = shown_path(item.name).replace("|", "\\|")
        lines.append(f"| {number} | {item.group} | `{name}` | {item.what} | {outcome} |")
    return "\n".join(lines) + "\n"


DOCUMENT = REPO_ROOT / "docs" / "bad-inputs.md"
TABLE_START, TABLE_END = "<!-- corpus-table:start -->\n", "<!-- corpus-table:end -->"


def write_document_table() -> None:
    """Put the current table between the markers of docs/bad-inputs.md."""
    text = DOCUMENT.read_text(encoding="utf-8")
    before, rest = text.split(TABLE_START)
    _, after = rest.split(TABLE_END)
    DOCUMENT.write_text(before + TABLE_START + markdown_table() + TABLE_END + after, encoding="utf-8")
