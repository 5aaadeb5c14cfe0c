"""The repository speaks for itself: nothing cites documents that are not in it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
# A design document's section (its name, then a section sign and number) or a tracker's
# item (the word for one, then its number).
OUTSIDE_REFERENCE = re.compile(r"\bSPEC\b|§\s*\d|\b[Ii]ssues? #?\d")
# Standards are in the open: "RFC 9112 §6.1" names a public document.
PUBLIC_STANDARD = re.compile(r"RFC ?\d+[^§\n]{0,40}§\s*\d", re.IGNORECASE)


def _tracked_text_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return [ROOT / name for name in out.splitlines() if not name.endswith(".png")]


def test_no_file_cites_design_documents_or_issue_numbers() -> None:
    offenders = []
    for path in _tracked_text_files():
        if path == Path(__file__).resolve() or not path.is_file():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            cleaned = PUBLIC_STANDARD.sub("", line)
            if OUTSIDE_REFERENCE.search(cleaned):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not offenders, "\n".join(offenders)


def test_the_check_catches_a_citation() -> None:
    # Spelled in pieces, so that this file holds no citation of its own.
    assert OUTSIDE_REFERENCE.search("as " + "SPEC" + " \u00a72 says")
    assert OUTSIDE_REFERENCE.search("added in " + "issue" + " 5")
    assert not OUTSIDE_REFERENCE.search(PUBLIC_STANDARD.sub("", "RFC 9112 §6.1 says"))
