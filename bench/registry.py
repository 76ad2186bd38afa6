"""A named registry: the one mechanism behind tasks' data sources, degradations, architectures, ...

SOURCES = Registry[SourceReader]("data source")

@SOURCES.register("image-folder")
def image_folder(...): ...

SOURCES["image-folder"]   # or a KeyError naming the known entries
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownName(KeyError):
    """A name that is not registered; the message lists the registered ones."""

    def __str__(self) -> str:
        return str(self.args[0])


class Registry(Mapping[str, T], Generic[T]):
    """Name -> entry, filled by the :meth:`register` decorator; a read-only mapping otherwise."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator adding the decorated object under ``name`` (a name can be registered once)."""

        def wrap(entry: T) -> T:
            self.add(name, entry)
            return entry

        return wrap

    def add(self, name: str, entry: T) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        self._entries[name] = entry

    def remove(self, name: str) -> T:
        """Take ``name`` out again (a test's throwaway entry); returns the entry."""
        return self._entries.pop(self.check(name))

    def check(self, name: str) -> str:
        """``name`` if registered, else :class:`UnknownName` (usable as a pydantic validator body)."""
        if name not in self._entries:
            raise UnknownName(f"unknown {self.kind} {name!r}; known: {', '.join(sorted(self._entries))}")
        return name

    def __getitem__(self, name: str) -> T:
        return self._entries[self.check(name)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
