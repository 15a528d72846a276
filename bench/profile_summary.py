"""Summarise py-spy "raw" (collapsed stack) profiles of the gunicorn workers.

    .venv/bin/python bench/profile_summary.py [--only=FUNCTION] bench/results/profile-*/*.txt

bench/run.py calls `summarize` when BENCH_PROFILE=1. Each sample is one stack
of a thread that was running (py-spy leaves idle threads out: waiting on
PostgreSQL, on a socket or for the GIL does not count), so the shares are of
the workers' Python CPU time. A sample is charged to the innermost frame that
belongs to a third-party package or to the application ("self by layer"), and
to every function on its stack ("inclusive").
"""

from __future__ import annotations

import functools
import importlib.util
import re
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


@functools.lru_cache(maxsize=None)
def layer(file: str) -> str | None:
    """Which package a frame's file belongs to: 'flask', 'app:shared', 'app:donations', ...,
    or None for the standard library. py-spy names files relative to their sys.path entry
    ("flask/app.py"), or in full ("/work/main/shared/db.py")."""
    parts = file.replace("\\", "/").split("/")
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            parts = parts[parts.index(marker) + 1:]
    if "shared" in parts or "services" in parts:
        at = parts.index("shared") if "shared" in parts else parts.index("services") + 1
        return "app:" + parts[at] if at < len(parts) else "app"
    top = parts[0].removesuffix(".py")
    if not top.isidentifier():
        return None
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    origin = (spec.origin or "") if spec else ""
    return top.lower() if ("site-packages" in origin or "dist-packages" in origin) else None


def read(paths: Iterable[Path]) -> Counter[tuple[str, ...]]:
    stacks: Counter[tuple[str, ...]] = Counter()
    for path in paths:
        for line in Path(path).read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def _short(frame: str) -> str:
    match = FRAME.match(frame)
    if not match:
        return frame
    file = match.group("file")
    for marker in ("site-packages/", "dist-packages/", "/work/main/", "lib/python3."):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{match.group('function')} ({file})"


def summarize(paths: Iterable[Path], top: int = 25, only: str | None = None) -> dict[str, Any]:
    """Shares of the samples; `only`: just the stacks with a frame naming that function."""
    stacks = read(paths)
    if only:
        stacks = Counter({s: c for s, c in stacks.items() if any(f.startswith(only + " ") for f in s)})
    total = sum(stacks.values())
    if not total:
        return {"samples": 0}
    by_layer: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    for stack, count in stacks.items():
        frames = [f for f in stack if not f.startswith(("process ", "thread "))]
        charged = None
        stdlib = None
        for frame in reversed(frames):
            match = FRAME.match(frame)
            file = match.group("file") if match else ""
            charged = layer(file)
            if charged:
                break
            if stdlib is None and file:
                stdlib = "stdlib:" + file.split("/")[0].removesuffix(".py")
        by_layer[charged or stdlib or "other"] += count
        if frames:
            self_time[_short(frames[-1])] += count
        for name in {_short(f) for f in frames}:
            inclusive[name] += count

    def share(counter: Counter[str], n: int) -> list[tuple[str, float]]:
        return [(name, round(100 * c / total, 1)) for name, c in counter.most_common(n)]

    return {"samples": total, "self_by_layer_pct": share(by_layer, 30),
            "inclusive_pct": share(inclusive, top), "self_pct": share(self_time, top)}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    only = None
    if argv and argv[0].startswith("--only="):
        only, argv = argv[0].removeprefix("--only="), argv[1:]
    summary = summarize([Path(a) for a in argv], top=40, only=only)
    print(f"{summary['samples']} samples")
    for title in ("self_by_layer_pct", "inclusive_pct", "self_pct"):
        print(f"\n{title}:")
        for name, pct in summary.get(title, []):
            print(f"  {pct:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
