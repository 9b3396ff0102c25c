"""The counter types dots are placed as (Qt-free), as in Fiji's Cell Counter: named, each with its colour.

The list is the user's (kept in the settings), in the order types were named; a type read from a
dot file that the list does not hold yet joins it at the end. A type's colour is fixed by its place
in the list, so it stays the same on every image.
"""

from __future__ import annotations

from countxplain.annotations import DEFAULT_DOT_TYPE

TYPE_COLORS = ("#00e5ff", "#76ff03", "#ff4081", "#ffd600", "#ff9100", "#d500f9", "#ffffff", "#2979ff")
MAX_NAME_CHARS = 40


def check_type_name(name: str, taken: list[str]) -> str:
    """The name as it will be stored; ValueError with the reason when it cannot be a type's name."""
    name = " ".join(name.split())
    if not name:
        raise ValueError("A counter type needs a name.")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"A counter type's name has at most {MAX_NAME_CHARS} characters.")
    if name in taken:
        raise ValueError(f"There is a counter type '{name}' already.")
    return name


class DotTypes:
    """The named types and the one new dots get (``current``)."""

    def __init__(self, names: list[str] | None = None) -> None:
        self.names: list[str] = list(dict.fromkeys(n for n in (names or []) if n)) or [DEFAULT_DOT_TYPE]
        self.current = self.names[0]

    def color(self, name: str) -> str:
        """The type's colour (a type not in the list gets the first colour after the list's)."""
        index = self.names.index(name) if name in self.names else len(self.names)
        return TYPE_COLORS[index % len(TYPE_COLORS)]

    def add(self, name: str) -> str:
        """Name a new type and make it current; ValueError if the name is empty or taken."""
        name = check_type_name(name, self.names)
        self.names.append(name)
        self.current = name
        return name

    def rename(self, old: str, new: str) -> str:
        """Rename a type in place (it keeps its colour); ValueError if the new name is empty or taken."""
        new = check_type_name(new, [n for n in self.names if n != old])
        self.names[self.names.index(old)] = new
        if self.current == old:
            self.current = new
        return new

    def choose(self, name: str) -> None:
        if name in self.names:
            self.current = name

    def learn(self, names) -> bool:
        """Add the types of a dot file that the list lacks; True if any was new."""
        new = [n for n in dict.fromkeys(names) if n not in self.names]
        self.names.extend(new)
        return bool(new)
