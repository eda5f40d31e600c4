"""Compact states: every variable is a bit field of one Python int.

Members of each symmetry are laid out as equal, consecutive blocks (so a permutation moves
whole blocks), then the remaining variables. ``bytes_per_state`` is the packed width.
"""

from __future__ import annotations

from collections.abc import Mapping

from qmcheck.model.transitions.system import TransitionSystem


def bits_for(size: int) -> int:
    """Bits that hold the values ``0 .. size-1`` (at least one)."""
    return max(1, (size - 1).bit_length())


class Packing:
    """Bit offsets and widths of the variables of a system."""

    def __init__(self, system: TransitionSystem) -> None:
        sizes = system.domains
        order: list[str] = []
        #: per symmetry: (offset of member 0, block width, number of members)
        self.blocks: list[tuple[int, int, int]] = []
        offset = 0
        for sym in system.symmetries:
            width = sum(bits_for(sizes[n]) for n in sym.members[0]) if sym.members else 0
            self.blocks.append((offset, width, len(sym.members)))
            for member in sym.members:
                order.extend(member)
            offset += width * len(sym.members)
        placed = set(order)
        order.extend(v.name for v in system.variables if v.name not in placed)
        self.order: tuple[str, ...] = tuple(order)
        self.offset: dict[str, int] = {}
        self.width: dict[str, int] = {}
        pos = 0
        for name in order:
            self.offset[name] = pos
            self.width[name] = bits_for(sizes[name])
            pos += self.width[name]
        self.bits = pos
        self.sizes = sizes
        self.field: dict[str, int] = {n: ((1 << self.width[n]) - 1) << self.offset[n]
                                      for n in order}

    @property
    def bytes_per_state(self) -> int:
        return max(1, (self.bits + 7) // 8)

    def mask(self, names: frozenset[str] | set[str] | tuple[str, ...]) -> int:
        """The bits of ``names``."""
        m = 0
        for n in names:
            m |= self.field[n]
        return m

    def pack(self, values: Mapping[str, int]) -> int:
        s = 0
        for n in self.order:
            s |= values[n] << self.offset[n]
        return s

    def unpack(self, state: int, names: tuple[str, ...] | frozenset[str] | None = None
               ) -> dict[str, int]:
        names = self.order if names is None else names
        return {n: (state >> self.offset[n]) & ((1 << self.width[n]) - 1) for n in names}

    def get(self, state: int, name: str) -> int:
        return (state >> self.offset[name]) & ((1 << self.width[name]) - 1)

    def set(self, state: int, name: str, value: int) -> int:
        m = ((1 << self.width[name]) - 1) << self.offset[name]
        return (state & ~m) | (value << self.offset[name])

    def to_bytes(self, state: int) -> bytes:
        return state.to_bytes(self.bytes_per_state, "big")
