"""The sweep-line explorer: vectorized, rank-ordered exploration without a visited set.

It answers what ``bfs.Engine`` answers at reduction ``none`` (the same states, transitions and
verdicts) when the system declares a rank that every action strictly raises (Christensen,
Kristensen & Mailund, "A sweep-line method for state space exploration", TACAS 2001): a state of
rank ``r`` has only predecessors of lower rank, so the ranks are processed in increasing order
and the bucket of rank ``r`` is complete when its turn comes. It is then deduplicated, counted,
checked, expanded and freed: no global visited set, the memory at any time is the live buckets.

States are rows of ``W`` uint64 words (the bits of ``model.transitions.packing``). The effect
caches are those of ``bfs.Engine`` (one entry per class and distinct value of the read
variables, filled in Python on first sight): ``tables.py`` turns them into numpy arrays (keep
and set masks, rank deltas, test bits) and finds the entry of every state of a chunk at once,
so the successors of a chunk are one gather, ``(F[rows] & KEEP[e]) | SET[e]``.

Verdicts: ``always`` / ``sometimes`` from the test bits of every state; ``no-deadlock`` and
``eventually`` from terminal states (the rank makes the graph acyclic, so no fair cycle exists).
The reported paths come from ``witness.py``, as at every level. ``Search.depth`` is not computed
(0): the sweep goes by rank, not by distance. Past ``max_memory`` the waiting buckets move to
files; a chunk that alone passes the budget, or ``max_states``, ends the run as incomplete.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from qmcheck.properties.engines.tables import CHUNK_WORDS, Tables, dedupe, to_words

Engine = Any  # properties.engines.bfs.Engine (bfs imports this module lazily)


def usable(engine: Engine) -> bool:
    """Whether the sweep decides what ``engine`` asks: level none, a declared rank whose terms
    each action's reads cover, no graph to build, at most 64 property parts."""
    return (engine.reduction == "none" and engine.rank_terms is not None
            and not engine.build_graph and len(engine.tests) <= 64)


class _Bucket:
    """The states of one rank: arrays in memory or files, possibly with duplicates."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray | Path] = []
        self.rows = 0  # rows held (duplicates included)
        self.unique = 0  # rows of the deduplicated first part, if any

    def held_bytes(self) -> int:
        return sum(p.nbytes for p in self.parts if isinstance(p, np.ndarray))


class Sweep:
    """One sweep-line run over the classes and caches of ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.tables = Tables(engine)
        self.words = self.tables.words
        self.buckets: dict[int, _Bucket] = {}
        self.held = 0  # bytes of bucket arrays in memory
        self.spilled = False
        self._dir: Path | None = None
        self._files = 0
        self.peak = 0
        self.chunk = max(1024, CHUNK_WORDS // self.words)
        #: rows a waiting bucket may hold beyond twice its distinct rows before it is
        #: deduplicated again (hundreds of ranks wait at once: keep this small)
        self.slack = max(256, self.chunk // 8)

    # -- buckets ------------------------------------------------------------------------------
    def _put(self, rank: int, arr: np.ndarray) -> None:
        b = self.buckets.get(rank)
        if b is None:
            b = self.buckets[rank] = _Bucket()
        if self.spilled:
            b.parts.append(self._save(arr))
        else:
            b.parts.append(arr)
            self.held += arr.nbytes
        b.rows += len(arr)
        if not self.spilled and b.rows > max(2 * b.unique, self.slack) and len(b.parts) > 1:
            before = b.held_bytes()
            merged = dedupe(np.concatenate([self._load(p) for p in b.parts]))
            b.parts = [merged]
            b.rows = b.unique = len(merged)
            self.held += merged.nbytes - before

    def _take(self, rank: int) -> np.ndarray:
        b = self.buckets.pop(rank)
        self.held -= b.held_bytes()
        arrs = [self._load(p) for p in b.parts]
        for p in b.parts:
            if isinstance(p, Path):
                p.unlink(missing_ok=True)
        return dedupe(np.concatenate(arrs) if len(arrs) > 1 else arrs[0])

    def _save(self, arr: np.ndarray) -> Path:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="qmcheck-sweep-"))
        path = self._dir / f"b{self._files}.npy"
        self._files += 1
        np.save(path, arr)
        return path

    @staticmethod
    def _load(p: np.ndarray | Path) -> np.ndarray:
        return p if isinstance(p, np.ndarray) else np.load(p)

    def _spill(self) -> None:
        """Move every waiting bucket to files; later successors go to files too."""
        self.spilled = True
        for b in self.buckets.values():
            b.parts = [self._save(p) if isinstance(p, np.ndarray) else p for p in b.parts]
        self.held = 0

    def close(self) -> None:
        """Delete the spill directory, if any."""
        self.buckets.clear()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    # -- the run ------------------------------------------------------------------------------
    def explore(self, out: Any, start: float) -> dict[int, tuple[int, int]]:
        """Sweep every rank; returns property index -> (a witness state, 0) of the properties
        a state refutes (always / eventually / no-deadlock) or satisfies (sometimes)."""
        eng = self.engine
        kinds = [p.kind for p in eng.props]
        watch = {pi: eng.prop_bits[pi] for pi, k in enumerate(kinds)
                 if k in ("always", "sometimes")}
        terminal = {pi: eng.prop_bits[pi] for pi, k in enumerate(kinds)
                    if k in ("eventually", "no-deadlock")}
        first: dict[int, tuple[int, int]] = {}
        for s0 in eng.initials:
            self._put(self.tables.rank(s0), to_words([s0], self.words))
        budget = eng.max_memory
        count = transitions = 0
        last = start
        while self.buckets:
            rank = self._next_rank()
            layer = self._take(rank)
            if eng.max_states is not None and count + len(layer) > eng.max_states:
                out.complete, out.stopped = False, "max-states"
                count += len(layer)
                break
            count += len(layer)
            for lo in range(0, len(layer), self.chunk):
                F = layer[lo:lo + self.chunk]
                bits, nsucc, succ, lo, counts = self.tables.expand(F)
                transitions += len(succ)
                work = F.nbytes + 3 * succ.nbytes + layer.nbytes
                self.peak = max(self.peak, self.held + work)
                if budget is not None and work > budget:
                    out.complete, out.stopped = False, "max-memory"
                    break
                self._check(F, bits, nsucc, watch, terminal, kinds, first)
                pos = 0
                for d, k in enumerate(counts.tolist()):
                    if k:
                        # a copy: a view would keep the whole chunk's array alive
                        self._put(rank + lo + d, succ[pos:pos + k].copy())
                        pos += k
                if budget is not None and not self.spilled and self.held + work > budget // 2:
                    self._spill()
            if not out.complete:
                break
            if eng.progress is not None:
                now = time.perf_counter()
                if now - last >= eng.progress_every:
                    last = now
                    eng.progress(f"{count:,} states, {count / (now - start):,.0f} states/s, "
                                 f"rank {rank}, {len(self.buckets)} ranks waiting")
        out.states = count
        out.transitions = transitions
        out.depth = 0
        out.spilled = self.spilled
        out.compressed = True
        out.acyclic = True
        out.bytes_per_state = self.peak / max(1, count)
        return first

    def _next_rank(self) -> int:
        """The lowest waiting rank: every predecessor of its states has been expanded."""
        return min(self.buckets)

    def _check(self, F: np.ndarray, bits: np.ndarray, nsucc: np.ndarray,
               watch: dict[int, int], terminal: dict[int, int], kinds: list[str],
               first: dict[int, tuple[int, int]]) -> None:
        """Record the first state of ``F`` that decides each still undecided property."""
        for pi, m in list(watch.items()):
            hit = np.flatnonzero(bits & np.uint64(m))
            if len(hit):
                first[pi] = (self.tables.to_int(F[hit[0]]), 0)
                del watch[pi]
        if not terminal:
            return
        term = np.flatnonzero(nsucc == 0)
        if not len(term):
            return
        tb = bits[term]
        for pi, m in list(terminal.items()):
            if m:
                bad = np.flatnonzero((tb & np.uint64(m)) != np.uint64(m))
            else:
                bad = np.arange(len(term)) if kinds[pi] == "no-deadlock" else term[:0]
            if len(bad):
                first[pi] = (self.tables.to_int(F[term[bad[0]]]), 0)
                del terminal[pi]
