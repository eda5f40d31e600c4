"""The effect caches of ``bfs.Engine`` as numpy arrays, for the vectorized sweep (sweep.py).

A state is a row of ``W`` uint64 words (word ``i`` holds bits ``64 i .. 64 i + 63`` of the packed
integer). Per class of actions (same read set) the table holds, for every cache entry seen so far:
the key words (the state masked by the class's reads), the number of effects and where they
start, the test bits; per effect the keep and set masks (``W`` words each) and the rank delta.
``lookup`` finds the entry of every row of a chunk by a 64-bit hash of the key words in an
open-addressing table (linear probing, load at most 1/4, probed for all rows at once); keys not seen yet are filled by the
engine in Python (``bfs.Engine._fill``, which checks the rank). Every match is then checked word
for word; a hash collision between two keys raises ``Collision`` (the engine then falls back to
the plain BFS, which gives the same answers).
"""

from __future__ import annotations

from typing import Any

import numpy as np

Engine = Any  # properties.engines.bfs.Engine
M64 = (1 << 64) - 1
CHUNK_WORDS = 1 << 19  # words of one chunk of states expanded at once (4 MiB)
_MIX = (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0xD6E8FEB86659FD93)


class Collision(Exception):
    """Two distinct keys with the same 64-bit hash (the sweep then gives way to the BFS)."""


def to_words(states: list[int], words: int) -> np.ndarray:
    """Packed integers as an ``n x words`` uint64 array."""
    return np.array([[(s >> (64 * i)) & M64 for i in range(words)] for s in states],
                    dtype=np.uint64).reshape(len(states), words)


def row_hash(cols: list[np.ndarray], n: int) -> np.ndarray:
    """A 64-bit mix of the given uint64 columns of ``n`` rows (splitmix64 steps)."""
    h = np.full(n, np.uint64(_MIX[0]), dtype=np.uint64)
    for j, c in enumerate(cols):
        h ^= c
        h *= np.uint64(_MIX[1 + j % 3])
        h ^= h >> np.uint64(31)
    h *= np.uint64(_MIX[1])
    h ^= h >> np.uint64(29)
    return h


def dedupe(a: np.ndarray) -> np.ndarray:
    """The distinct rows of ``a`` (sorted by their hash; exact: equal hashes are compared)."""
    if len(a) < 2:
        return a
    h = row_hash([a[:, i] for i in range(a.shape[1])], len(a))
    order = np.argsort(h, kind="stable")
    hs = h[order]
    s = a[order]
    same = hs[1:] == hs[:-1]
    eq = (s[1:] == s[:-1]).all(axis=1)
    if (same & ~eq).any():  # a collision: sort exactly
        v = np.ascontiguousarray(a).view(np.dtype((np.void, 8 * a.shape[1]))).ravel()
        return np.unique(v).view(np.uint64).reshape(-1, a.shape[1])
    keep = np.ones(len(s), dtype=bool)
    keep[1:] = ~same
    return s[keep]


class _Table:
    """One class of actions: its key words and entries as arrays."""

    def __init__(self, engine: Engine, c: Any, words: int) -> None:
        self.engine = engine
        self.c = c
        self.words = words
        self.key_words = [(i, np.uint64((c.mask >> (64 * i)) & M64)) for i in range(words)
                          if (c.mask >> (64 * i)) & M64]
        self.slot_h = np.zeros(16, dtype=np.uint64)  # hash per slot, 0: empty
        self.slot_e = np.zeros(16, dtype=np.int64)  # entry index per slot
        self.shift = np.uint64(60)  # slot = hash >> shift (the top bits)
        self.keys = np.empty((0, len(self.key_words)), dtype=np.uint64)
        self.cnt = np.empty(0, dtype=np.int64)
        self.start = np.empty(0, dtype=np.int64)
        self.tbits = np.empty(0, dtype=np.uint64)
        self.keep = np.empty((0, words), dtype=np.uint64)
        self.set = np.empty((0, words), dtype=np.uint64)
        self.delta = np.empty(0, dtype=np.int64)
        self.hashes = np.empty(0, dtype=np.uint64)  # per entry

    def _add(self, hashes: np.ndarray, keys: np.ndarray, rank_delta: Any) -> None:
        """Fill the entries of new keys (rows of ``keys``) and append them."""
        eng, c, w = self.engine, self.c, self.words
        cnt, tb, keep, setb, delta = [], [], [], [], []
        for row in keys.tolist():
            key = 0
            for (i, _), v in zip(self.key_words, row, strict=True):
                key |= int(v) << (64 * i)
            entry = c.cache.get(key)
            if entry is None:
                entry = eng._fill(c, key)
            cnt.append(len(entry[0]))
            tb.append(entry[1])
            for k, b, ai in entry[0]:
                keep.append([(k >> (64 * i)) & M64 for i in range(w)])
                setb.append([(b >> (64 * i)) & M64 for i in range(w)])
                delta.append(rank_delta(ai, key, (key & k) | b))
        base = len(self.cnt)
        n_eff = len(self.delta)
        new_cnt = np.array(cnt, dtype=np.int64)
        self.start = np.concatenate([self.start, n_eff + np.cumsum(new_cnt) - new_cnt])
        self.cnt = np.concatenate([self.cnt, new_cnt])
        self.tbits = np.concatenate([self.tbits, np.array(tb, dtype=np.uint64)])
        self.keys = np.concatenate([self.keys, keys])
        if keep:
            self.keep = np.concatenate([self.keep, np.array(keep, dtype=np.uint64)])
            self.set = np.concatenate([self.set, np.array(setb, dtype=np.uint64)])
            self.delta = np.concatenate([self.delta, np.array(delta, dtype=np.int64)])
        size = len(self.slot_h)
        if 4 * len(self.cnt) > size:
            while 4 * len(self.cnt) > size:
                size *= 2
            self.slot_h = np.zeros(size, dtype=np.uint64)
            self.slot_e = np.zeros(size, dtype=np.int64)
            self.shift = np.uint64(64 - (size.bit_length() - 1))
            self._insert(self.hashes, 0)
            self._insert(hashes, len(self.hashes))
        else:
            self._insert(hashes, base)
        self.hashes = np.concatenate([self.hashes, hashes])

    def _insert(self, hashes: np.ndarray, base: int) -> None:
        mask = len(self.slot_h) - 1
        sh, se = self.slot_h, self.slot_e
        for j, (h, slot) in enumerate(zip(hashes.tolist(), (hashes >> self.shift).tolist(),
                                          strict=True)):
            while sh[slot]:
                slot = (slot + 1) & mask
            sh[slot] = h
            se[slot] = base + j

    def _find(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Entry index per hash (where found) and the mask of hashes not in the table."""
        eid = np.empty(len(h), dtype=np.int64)
        miss = np.zeros(len(h), dtype=bool)
        todo = np.arange(len(h))
        slot = (h >> self.shift).astype(np.int64)
        hh = h
        mask = len(self.slot_h) - 1
        while len(todo):
            cand = self.slot_h[slot]
            hit = cand == hh
            eid[todo[hit]] = self.slot_e[slot[hit]]
            empty = cand == 0
            miss[todo[empty]] = True
            more = ~(hit | empty)
            if not more.any():
                break
            todo, hh = todo[more], hh[more]
            slot = (slot[more] + 1) & mask
        return eid, miss

    def lookup(self, F: np.ndarray, rank_delta: Any) -> np.ndarray:
        """The entry index of every row of ``F``."""
        cols = [F[:, i] & m for i, m in self.key_words]
        h = row_hash(cols, len(F))
        h |= np.uint64(1)  # 0 marks an empty slot
        eid, miss = self._find(h)
        if miss.any():
            uh, pos = np.unique(h[miss], return_index=True)
            rows = np.flatnonzero(miss)[pos]
            keys = np.stack([c[rows] for c in cols], axis=1) if cols else \
                np.zeros((len(rows), 0), dtype=np.uint64)
            self._add(uh, keys, rank_delta)
            eid[miss] = self._find(h[miss])[0]
        k = self.keys[eid]
        for j, c in enumerate(cols):
            if not np.array_equal(k[:, j], c):
                raise Collision(f"class {self.c.names[:3]}")
        return eid


class Tables:
    """The tables of every class of an engine, and the expansion of a chunk of states."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.words = max(1, (engine.packing.bits + 63) // 64)
        self.tables = [_Table(engine, c, self.words) for c in engine.classes]
        self.ranks = engine.system.ranks
        self.unpack = engine.packing.unpack

    def rank(self, s: int) -> int:
        """The declared rank of the packed state ``s``."""
        return sum(m.value(self.unpack(s, tuple(m.reads))) for m in self.ranks)

    def rank_delta(self, ai: int, before: int, after: int) -> int:
        """Rank after minus rank before an effect of action ``ai`` (its measures only)."""
        d = 0
        for i in self.engine.rank_terms[ai]:
            m = self.ranks[i]
            names = tuple(m.reads)
            d += m.value(self.unpack(after, names)) - m.value(self.unpack(before, names))
        return d

    def to_int(self, row: np.ndarray) -> int:
        """One row back to a packed integer."""
        s = 0
        for i, v in enumerate(row.tolist()):
            s |= int(v) << (64 * i)
        return s

    def expand(self, F: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Test bits and successor counts of every row of ``F``, and all successors with
        their rank deltas (grouped by class, then by row, then by effect)."""
        n = len(F)
        bits = np.zeros(n, dtype=np.uint64)
        nsucc = np.zeros(n, dtype=np.int64)
        succ: list[np.ndarray] = []
        deltas: list[np.ndarray] = []
        for t in self.tables:
            eid = t.lookup(F, self.rank_delta)
            bits |= t.tbits[eid]
            cnt = t.cnt[eid]
            nsucc += cnt
            total = int(cnt.sum())
            if not total:
                continue
            rows = np.repeat(np.arange(n), cnt)
            ends = np.cumsum(cnt)
            e = np.arange(total) + np.repeat(t.start[eid] - (ends - cnt), cnt)
            succ.append((F[rows] & t.keep[e]) | t.set[e])
            deltas.append(t.delta[e])
        if not succ:
            return bits, nsucc, np.empty((0, self.words), dtype=np.uint64), \
                np.empty(0, dtype=np.int64)
        return bits, nsucc, np.concatenate(succ), np.concatenate(deltas)
