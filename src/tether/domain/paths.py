"""Places in a JSON value, named as error messages name them: ``events[3].message.to[0]``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Loc = tuple[int | str, ...]


def join(prefix: str, loc: Sequence[int | str]) -> str:
    """``prefix`` followed by a location (pydantic's ``loc``, or a path's parts)."""
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def nul_at(value: Any) -> Loc | None:
    """Where the first string (key or value) holding a NUL character is: () for the value
    itself, None if nowhere.  Iterative: parsed JSON may be 1024 levels deep."""
    stack: list[tuple[Loc, Any]] = [((), value)]
    while stack:
        at, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return at
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                if "\x00" in str(key):
                    return (*at, str(key))
                stack.append(((*at, str(key)), child))
        elif isinstance(item, list):
            stack.extend(((*at, i), child) for i, child in reversed(list(enumerate(item))))
    return None
