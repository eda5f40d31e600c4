"""The effect caches of ``bfs.Engine`` as numpy arrays, for the vectorized sweep (sweep.py).

A state is a row of ``W`` uint64 words (word ``i`` holds bits ``64 i .. 64 i + 63`` of the packed
integer). Per class of actions (same read set) a table holds, for every cache entry seen so far,
the key words (the state masked by the class's reads), the number of effects and where they
start, and the test bits; the effects of all classes (keep and set masks, or the xor delta when
every written variable is read, and the rank delta) are shared arrays. ``lookup`` finds the
entry of every row of a chunk by a 64-bit hash of its key words in an open-addressing table
(linear probing, load at most 1/8, probed for all rows at once); keys not seen yet are filled
by the engine in Python (``bfs.Engine._fill``, which checks the rank). Every match is then
checked word for word; a hash collision between two keys raises ``Collision`` (the engine then
falls back to the plain BFS, which gives the same answers).
"""

from __future__ import annotations

from typing import Any

import numpy as np

Engine = Any  # properties.engines.bfs.Engine
M64 = (1 << 64) - 1
CHUNK_WORDS = 1 << 19  # words of one chunk of states expanded at once (4 MiB)
_MIX = (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0xD6E8FEB86659FD93)


def _room(arr: np.ndarray, need: int) -> np.ndarray:
    """``arr`` with room for ``need`` rows (capacity doubles: appends cost amortized O(1))."""
    if len(arr) >= need:
        return arr
    out = np.zeros((max(need, 2 * len(arr)), *arr.shape[1:]), dtype=arr.dtype)
    out[:len(arr)] = arr
    return out


class Collision(Exception):
    """Two distinct keys with the same 64-bit hash (the sweep then gives way to the BFS)."""


def to_words(states: list[int], words: int) -> np.ndarray:
    """Packed integers as an ``n x words`` uint64 array."""
    return np.array([[(s >> (64 * i)) & M64 for i in range(words)] for s in states],
                    dtype=np.uint64).reshape(len(states), words)


def row_hash(cols: list[np.ndarray], n: int) -> np.ndarray:
    """A 64-bit mix of the given uint64 columns of ``n`` rows (multiply-xor, then a
    splitmix64 finalizer)."""
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
    order = np.argsort(h)
    hs = h[order]
    same = np.flatnonzero(hs[1:] == hs[:-1]) + 1  # sorted positions equal to the previous
    if len(same):
        if not (a[order[same]] == a[order[same - 1]]).all():  # a collision: sort exactly
            v = np.ascontiguousarray(a).view(np.dtype((np.void, 8 * a.shape[1]))).ravel()
            return np.unique(v).view(np.uint64).reshape(-1, a.shape[1])
        keep = np.ones(len(a), dtype=bool)
        keep[same] = False
        order = order[keep]
    return a[order]


class _Table:
    """One class of actions: its key words, its entries and a hash index over them."""

    def __init__(self, owner: Tables, c: Any) -> None:
        self.owner = owner
        self.c = c
        words = owner.words
        self.key_words = [(i, np.uint64((c.mask >> (64 * i)) & M64)) for i in range(words)
                          if (c.mask >> (64 * i)) & M64]
        self.slot_h = np.zeros(64, dtype=np.uint64)  # hash per slot, 0: empty
        self.slot_e = np.zeros(64, dtype=np.int64)  # entry index per slot
        self.shift = np.uint64(58)  # slot = hash >> shift (the top bits)
        self.keys = np.empty((0, len(self.key_words)), dtype=np.uint64)
        self.cnt = np.empty(0, dtype=np.int64)
        self.start = np.empty(0, dtype=np.int64)  # into the owner's effect arrays
        self.tbits = np.empty(0, dtype=np.uint64)
        self.hashes = np.empty(0, dtype=np.uint64)  # per entry
        self.n = 0  # entries (the arrays above have room for more)

    def _add(self, hashes: np.ndarray, keys: np.ndarray) -> None:
        """Fill the entries of new keys (rows of ``keys``) and append them."""
        c, owner = self.c, self.owner
        cnt, tb = [], []
        effects: list[tuple[int, int, int, int | None]] = []
        for row in keys.tolist():
            key = 0
            for (i, _), v in zip(self.key_words, row, strict=True):
                key |= int(v) << (64 * i)
            entry = c.cache.get(key)
            if entry is None:
                entry = owner.engine._fill(c, key)
            cnt.append(len(entry[0]))
            tb.append(entry[1])
            xors, rises = entry[3], entry[4]
            if rises is None:  # pragma: no cover - the sweep runs only with a rank
                raise ValueError("the sweep needs the rank deltas of the effects")
            for j, (k, b, _) in enumerate(entry[0]):
                effects.append((k, b, rises[j], None if xors is None else xors[j]))
        new_cnt = np.array(cnt, dtype=np.int64)
        first = owner.add_effects(effects)
        base, k = self.n, len(new_cnt)
        end = base + k
        self.start = _room(self.start, end)
        self.start[base:end] = first + np.cumsum(new_cnt) - new_cnt
        self.cnt = _room(self.cnt, end)
        self.cnt[base:end] = new_cnt
        self.tbits = _room(self.tbits, end)
        self.tbits[base:end] = np.array(tb, dtype=np.uint64)
        self.keys = _room(self.keys, end)
        self.keys[base:end] = keys
        self.hashes = _room(self.hashes, end)
        self.hashes[base:end] = hashes
        self.n = end
        size = len(self.slot_h)
        if 8 * end > size:  # load at most 1/8
            while 8 * end > size:
                size *= 2
            self.slot_h = np.zeros(size, dtype=np.uint64)
            self.slot_e = np.zeros(size, dtype=np.int64)
            self.shift = np.uint64(64 - (size.bit_length() - 1))
            self._insert(self.hashes[:base], 0)
        self._insert(hashes, base)

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
        """Entry index per hash (where found) and the positions of hashes not in the table."""
        slot = (h >> self.shift).astype(np.intp)
        eid = self.slot_e[slot]
        off = np.flatnonzero(self.slot_h[slot] != h)  # displaced by probing, or absent
        miss: list[np.ndarray] = []
        mask = len(self.slot_h) - 1
        while len(off):
            slot_o = slot[off]
            cand = self.slot_h[slot_o]
            miss.append(off[cand == 0])
            probe = off[cand != 0]
            slot[probe] = (slot[probe] + 1) & mask
            cand = self.slot_h[slot[probe]]
            hit = cand == h[probe]
            eid[probe[hit]] = self.slot_e[slot[probe[hit]]]
            off = probe[~hit]
        return eid, np.concatenate(miss) if miss else np.empty(0, dtype=np.intp)

    def lookup(self, F: np.ndarray) -> np.ndarray:
        """The entry index of every row of ``F``."""
        cols = [F[:, i] & m for i, m in self.key_words]
        h = row_hash(cols, len(F))
        h |= np.uint64(1)  # 0 marks an empty slot
        eid, miss = self._find(h)
        if len(miss):
            uh, pos = np.unique(h[miss], return_index=True)
            rows = miss[pos]
            keys = np.stack([c[rows] for c in cols], axis=1) if cols else \
                np.zeros((len(rows), 0), dtype=np.uint64)
            self._add(uh, keys)
            eid[miss] = self._find(h[miss])[0]
        k = self.keys[eid]
        for j, c in enumerate(cols):
            if not np.array_equal(k[:, j], c):
                raise Collision(f"class {self.c.names[:3]}")
        return eid


class Tables:
    """The tables of every class of an engine, the effects of all entries, and the expansion
    of a chunk of states."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.words = max(1, (engine.packing.bits + 63) // 64)
        self.ranks = engine.system.ranks
        self.unpack = engine.packing.unpack
        w = self.words
        self.keep = np.empty((0, w), dtype=np.uint64)
        self.set = np.empty((0, w), dtype=np.uint64)
        self.xor = np.empty((0, w), dtype=np.uint64)
        self.all_xor = True  # every effect so far is an xor (its writes are all read)
        self.delta = np.empty(0, dtype=np.int64)
        self.n_eff = 0  # effects (the arrays above have room for more)
        self.tables = [_Table(self, c) for c in engine.classes]

    def _words(self, x: int) -> list[int]:
        return [(x >> (64 * i)) & M64 for i in range(self.words)]

    def add_effects(self, effects: list[tuple[int, int, int, int | None]]) -> int:
        """Append ``(keep, set, rank delta, xor or None)`` effects; their first index."""
        first = self.n_eff
        if not effects:
            return first
        end = first + len(effects)
        self.keep = _room(self.keep, end)
        self.keep[first:end] = np.array([self._words(e[0]) for e in effects], dtype=np.uint64)
        self.set = _room(self.set, end)
        self.set[first:end] = np.array([self._words(e[1]) for e in effects], dtype=np.uint64)
        self.xor = _room(self.xor, end)
        self.xor[first:end] = np.array([self._words(e[3] or 0) for e in effects],
                                       dtype=np.uint64)
        self.all_xor = self.all_xor and all(e[3] is not None for e in effects)
        self.delta = _room(self.delta, end)
        self.delta[first:end] = np.array([e[2] for e in effects], dtype=np.int64)
        self.n_eff = end
        return first

    def rank(self, s: int) -> int:
        """The declared rank of the packed state ``s``."""
        return sum(m.value(self.unpack(s, tuple(m.reads))) for m in self.ranks)

    def to_int(self, row: np.ndarray) -> int:
        """One row back to a packed integer."""
        s = 0
        for i, v in enumerate(row.tolist()):
            s |= int(v) << (64 * i)
        return s

    def expand(self, F: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int,
                                             np.ndarray]:
        """Test bits and successor counts of every row of ``F``; all successors ordered by
        their rank delta, the smallest delta and the number of successors per delta."""
        n = len(F)
        bits = np.zeros(n, dtype=np.uint64)
        nsucc = np.zeros(n, dtype=np.int64)
        rows: list[np.ndarray] = []
        eff: list[np.ndarray] = []
        idx = np.arange(n)
        for t in self.tables:
            eid = t.lookup(F)
            bits |= t.tbits[eid]
            cnt = t.cnt[eid]
            nsucc += cnt
            total = int(cnt.sum())
            if not total:
                continue
            ends = np.cumsum(cnt)
            rows.append(np.repeat(idx, cnt))
            eff.append(np.arange(total) + np.repeat(t.start[eid] - (ends - cnt), cnt))
        if not rows:
            return bits, nsucc, np.empty((0, self.words), dtype=np.uint64), 0, \
                np.empty(0, dtype=np.int64)
        r = np.concatenate(rows)
        e = np.concatenate(eff)
        d = self.delta[e]
        lo, hi = int(d.min()), int(d.max())
        if lo != hi:
            small = d - lo
            if hi - lo < 1 << 16:
                small = small.astype(np.uint16)
            order = np.argsort(small, kind="stable")  # a radix sort on 16 bits
            counts = np.bincount(small)
            r, e = r[order], e[order]
        else:
            counts = np.array([len(e)])
        succ = F[r] ^ self.xor[e] if self.all_xor else (F[r] & self.keep[e]) | self.set[e]
        return bits, nsucc, succ, lo, counts
