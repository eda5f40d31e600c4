"""The visited set of the generic engine: a Python set, compressed, then spilled to disk.

States are packed integers. While the budget allows, they live in a Python ``set``. When the
estimate passes half the memory budget, every state is moved into one sorted numpy array of
fixed-width big-endian byte strings (``bytes_per_state`` bytes each, no per-object overhead);
new states are filtered against it a whole BFS layer at a time. When even that passes the
budget, the sorted arrays move to files in a temporary directory that are memory-mapped (the
page cache holds what fits); the directory is deleted when the set is closed.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

LIST_REF = 8  # bytes of one reference in a list
SET_SLOT = 40  # bytes of one entry of a Python set at its usual load factor (measured)


class Visited:
    """All states seen so far, plus the layers for path reconstruction."""

    def __init__(self, nbytes: int, max_memory: int | None) -> None:
        self.nbytes = nbytes
        self.dtype = np.dtype(f"S{nbytes}")
        self.max_memory = max_memory
        self.seen: set[int] = set()  # every state (set mode) or the next layer (compressed)
        self.frozen = np.empty(0, dtype=self.dtype)  # sorted, compressed mode
        self.layers: list[list[int] | np.ndarray] = []
        self.compressed = False
        self.spilled = False
        self._dir: Path | None = None
        self._files = 0
        self._frozen_file: Path | None = None
        self._last_file: Path | None = None
        self.int_bytes = sys.getsizeof(1 << (8 * nbytes - 1))

    # -- sizes --------------------------------------------------------------------------------
    def count(self) -> int:
        return len(self.frozen) + len(self.seen)

    def estimate(self, frontier: int) -> int:
        """Bytes held in memory now, ``frontier`` states of the next layer included."""
        ints = self.int_bytes
        if not self.compressed:
            return len(self.seen) * (ints + SET_SLOT + LIST_REF)
        held = 0 if self.spilled else self.frozen.nbytes + sum(
            la.nbytes for la in self.layers if isinstance(la, np.ndarray))
        return held + frontier * (ints + SET_SLOT + LIST_REF)

    def bytes_per_state(self) -> float:
        """Bytes per stored state, as held now (visited set and layers)."""
        n = max(1, self.count())
        if not self.compressed:
            return self.int_bytes + SET_SLOT + LIST_REF
        return (self.frozen.nbytes + sum(la.nbytes for la in self.layers
                                         if isinstance(la, np.ndarray))) / n

    # -- conversions --------------------------------------------------------------------------
    def to_array(self, states: list[int]) -> np.ndarray:
        n = self.nbytes
        return np.array([s.to_bytes(n, "big") for s in states], dtype=self.dtype)

    def from_array(self, arr: np.ndarray) -> list[int]:
        # numpy's fixed-width bytes drop trailing NUL bytes when read back: pad them again
        n = self.nbytes
        return [int.from_bytes(b.ljust(n, b"\0"), "big") for b in arr.tolist()]

    def layer(self, depth: int) -> list[int]:
        la = self.layers[depth]
        return la if isinstance(la, list) else self.from_array(la)

    # -- compressed mode ----------------------------------------------------------------------
    def compress(self) -> None:
        """Move every state into the sorted array; layers become arrays too."""
        if self.compressed:
            return
        self.compressed = True
        self.frozen = np.sort(self.to_array(sorted(self.seen)))
        self.seen = set()
        self.layers = [self.to_array(la) if isinstance(la, list) else la for la in self.layers]

    def contains_frozen(self, state: int) -> bool:
        key = np.array([state.to_bytes(self.nbytes, "big")], dtype=self.dtype)
        i = int(np.searchsorted(self.frozen, key[0]))
        return i < len(self.frozen) and self.frozen[i] == key[0]

    def close_layer(self, layer: list[int]) -> list[int]:
        """Compressed mode: the states of ``layer`` not seen before (order kept); they are added."""
        if not layer:
            self.seen = set()
            return layer
        arr = self.to_array(layer)
        fresh = ~np.isin(arr, self.frozen, assume_unique=False) if len(self.frozen) else \
            np.ones(len(arr), dtype=bool)
        kept = [s for s, keep in zip(layer, fresh.tolist(), strict=True) if keep]
        new = arr[fresh]
        merged = np.concatenate([np.asarray(self.frozen), new])
        merged.sort(kind="stable")
        self._set_frozen(merged)
        self.seen = set()
        return kept

    def add_layer(self, layer: list[int]) -> None:
        """Record a BFS layer (for path reconstruction)."""
        if self.compressed:
            self.layers.append(self._store(self.to_array(layer)))
        else:
            self.layers.append(layer)

    def maybe_spill(self) -> None:
        """Move the arrays to disk once they pass the memory budget."""
        if self.max_memory is None or self.spilled or not self.compressed:
            return
        if self.estimate(0) > self.max_memory // 3:  # the arrays may take a third
            self.spilled = True
            self._set_frozen(np.asarray(self.frozen))
            self.layers = [self._store(np.asarray(la)) for la in self.layers]

    def _set_frozen(self, arr: np.ndarray) -> None:
        old = self._frozen_file
        self.frozen = self._store(arr)
        self._frozen_file = self._last_file if self.spilled else None
        if old is not None and old != self._frozen_file:
            old.unlink(missing_ok=True)

    def _store(self, arr: np.ndarray) -> np.ndarray:
        if not self.spilled:
            return arr
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="qmcheck-visited-"))
        path = self._dir / f"a{self._files}.npy"
        self._files += 1
        self._last_file = path
        np.save(path, arr)
        return np.load(path, mmap_mode="r")

    def close(self) -> None:
        """Delete the spill directory, if any."""
        self.frozen = np.empty(0, dtype=self.dtype)
        self.layers = []
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
