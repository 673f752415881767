"""`wpwatch demo`, the README's first command, finds one change of each kind offline."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_demo_finds_what_was_changed(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "wpwatch", "demo"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    rounds = re.findall(r": ok, (\d+) requests in [\d.]+ s; (\d+) new, (\d+) edited, "
                        r"(\d+) unpublished, (\d+) deleted, (\d+) restored; 0 errors", out)
    assert [r[1:] for r in rounds] == [
        ("0", "0", "0", "0", "0"),  # baseline
        ("1", "2", "1", "1", "0"),  # back-dated new, softened + retitled, taken down, deleted
        ("0", "1", "0", "0", "0"),  # --full: the tag set without a modified bump
        ("0", "0", "0", "0", "0"),  # quiet
    ]
    assert int(rounds[3][0]) <= 3 * 2 + 2  # three per type (posts, pages) + types + robots.txt
    found = re.findall(r"(edited|new|unpublished|deleted|restored)\s+\S+\s+posts/(\d+)", out)
    assert sorted(found) == sorted([
        ("edited", "4561"), ("edited", "4583"), ("unpublished", "4575"),
        ("deleted", "4598"), ("edited", "4590"), ("new", found[[k for k, _ in found].index("new")][1]),
    ])
    assert "[terms:tags]" in out and "[content]" in out and "[title]" in out
    assert not list(tmp_path.glob("*.db")), "the demo leaves no archive behind unless asked"
