"""Sorting and freeing large lists in steps, so a background operation lets the window paint.

`list.sort` compares in one C loop that never runs bytecode, and the interpreter hands the GIL
to another thread only between bytecodes: sorting a year's ~190,000 billing lines held the
GIL for 300-800 ms, and the GUI thread (painting, answering clicks) waited that long. Sorting
chunks and merging them with `heapq.merge` (a generator, which runs bytecode between items)
gives the same order (stable, like `list.sort`) in small steps.

Freeing is the same: dropping the last reference to a list of ~200,000 rows deallocates every
row in one C loop (50-250 ms for a year's attendance, claim lines or insert parameters), so
`free_in_steps` empties large containers a chunk at a time before they go.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")
CHUNK = 4096


def sorted_in_steps(items: Iterable[T], key: Callable[[T], Any]) -> list[T]:
    """`sorted(items, key=key)`, in steps that let other threads run."""
    rows = list(items)
    if len(rows) <= CHUNK:
        return sorted(rows, key=key)
    keyed = [(key(row), i, row) for i, row in enumerate(rows)]  # i: stable, never compares rows
    runs = [sorted(keyed[at : at + CHUNK], key=_first_two) for at in range(0, len(keyed), CHUNK)]
    free_in_steps(keyed)
    out = [row for _k, _i, row in heapq.merge(*runs, key=_first_two)]
    free_in_steps(*runs)
    return out


def sort_in_steps(items: list[T], key: Callable[[T], Any]) -> None:
    """`items.sort(key=key)`, in steps that let other threads run."""
    items[:] = sorted_in_steps(items, key)


def free_in_steps(*containers: Any) -> None:
    """Empty lists, dicts and sets a chunk at a time (what they held is freed as it goes).

    Only for containers the caller is done with: each is left empty."""
    for c in containers:
        if isinstance(c, list):
            while c:
                del c[-CHUNK:]
        elif isinstance(c, dict):
            keys = list(c)
            for at in range(0, len(keys), CHUNK):
                for k in keys[at : at + CHUNK]:
                    del c[k]
            c.clear()
        elif isinstance(c, set):
            while c:
                for _ in range(min(CHUNK, len(c))):
                    c.pop()


def _first_two(entry: tuple[Any, int, Any]) -> tuple[Any, int]:
    return entry[0], entry[1]
