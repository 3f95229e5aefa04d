"""Put a benchmark's table into README.md between its markers (``<!-- NAME:begin -->`` / ``<!-- NAME:end -->``)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def write_between_markers(name: str, text: str, readme: Path = README) -> bool:
    """Replace what stands between the markers; False (README untouched) when they are missing."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    body = readme.read_text()
    if begin not in body or end not in body:
        return False
    readme.write_text(re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: f"{begin}\n{text}\n{end}", body,
                             flags=re.S))
    return True
