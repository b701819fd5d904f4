"""DIR/results.jsonl: one JSON record per computed point, appended atomically.

Each record is one ``os.write`` of one line on a file opened with ``O_APPEND``, followed by
``fsync``; only the sweep's client process writes. A kill can at worst leave a last line without
its newline: ``ResultStore`` cuts it off when it opens the file (that point was not done and is
computed again), so a restarted sweep sees exactly the points that finished.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

RESULTS_NAME = "results.jsonl"


class ResultStore:
    def __init__(self, out_dir: Path) -> None:
        self.path = Path(out_dir) / RESULTS_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair()
        self.records: dict[str, dict[str, Any]] = {r["key"]: r for r in self._read()}

    def _repair(self) -> None:
        """Cut a trailing partial line left by a kill in the middle of a write."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(self.path, "r+b") as f:
                f.truncate(data.rfind(b"\n") + 1)
                f.flush()
                os.fsync(f.fileno())

    def _read(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(rec, dict) and "key" in rec:
                    yield rec

    def __contains__(self, key: str) -> bool:
        return key in self.records

    def append(self, rec: dict[str, Any]) -> None:
        line = (json.dumps(rec, sort_keys=True, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.records[rec["key"]] = rec
