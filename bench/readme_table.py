"""Put a benchmark's table into the docs between its markers (``<!-- NAME:begin -->`` / ``<!-- NAME:end -->``),
in whichever of README.md and docs/*.md holds them."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


def marked_file(name: str) -> Path | None:
    """The page (README.md or docs/*.md) that holds ``name``'s markers."""
    for page in [README, *sorted((REPO / "docs").glob("*.md"))]:
        if f"<!-- {name}:begin -->" in page.read_text():
            return page
    return None


def write_between_markers(name: str, text: str, readme: Path | None = None) -> bool:
    """Replace what stands between the markers (in ``readme``, else the page that holds them); False (nothing
    written) when they are missing."""
    page = readme or marked_file(name)
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    body = page.read_text() if page is not None else ""
    if begin not in body or end not in body:
        return False
    page.write_text(re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: f"{begin}\n{text}\n{end}", body,
                           flags=re.S))
    return True
