"""The peak memory of every process in a tree, sampled while it runs.

A background thread walks the descendants of one process every ``every`` seconds and keeps,
per process id, its parent, its command line and its ``VmHWM`` (the kernel's own high-water
mark of its resident set, so a peak between two samples is not missed; only the last
``every`` seconds of a process's life can be).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass
class ProcessPeak:
    pid: int
    parent: int
    command: str
    peak_kib: int

    @property
    def peak_gib(self) -> float:
        return self.peak_kib / 2**20


def _high_water_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class ProcessPeaks:
    """Sample the tree under ``root`` (a pid) until ``stop()``; ``peaks`` per process."""

    def __init__(self, root: int, every: float = 0.2) -> None:
        self.root, self.every = root, every
        self.peaks: dict[int, ProcessPeak] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> ProcessPeaks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(self.every):
            try:
                children = psutil.Process(self.root).children(recursive=True)
            except psutil.NoSuchProcess:
                return
            for child in children:
                peak = _high_water_kib(child.pid)
                if peak is None:
                    continue
                known = self.peaks.get(child.pid)
                if known is None:
                    try:
                        command = " ".join(child.cmdline())[:160]
                    except psutil.Error:
                        continue
                    self.peaks[child.pid] = ProcessPeak(child.pid, child.ppid(), command, peak)
                else:
                    known.peak_kib = max(known.peak_kib, peak)
                    if not known.command:
                        known.command = " ".join(child.cmdline())[:160]

    def lineage(self, pid: int) -> list[ProcessPeak]:
        """The process ``pid`` and its sampled ancestors, nearest first."""
        chain = []
        while pid in self.peaks and len(chain) < 50:
            chain.append(self.peaks[pid])
            pid = self.peaks[pid].parent
        return chain

    def largest(self, count: int = 10) -> list[ProcessPeak]:
        return sorted(self.peaks.values(), key=lambda p: -p.peak_kib)[:count]
