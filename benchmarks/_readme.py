"""Splice a benchmark's markdown into README.md between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def update_readme(marker: str, markdown: str, path: Path = README) -> bool:
    """Replace the text between the markers; return False (and touch nothing) if the file or markers are missing."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    if not path.exists():
        return False
    text = path.read_text(encoding="utf-8")
    if start not in text or end not in text or text.index(start) > text.index(end):
        return False
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    path.write_text(pattern.sub(lambda _: f"{start}\n{markdown.strip()}\n{end}", text, count=1), encoding="utf-8")
    return True
