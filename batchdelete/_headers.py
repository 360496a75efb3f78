"""Response headers as code written for the SDK reads them: a read-only
mapping whose names match in any case (`headers["Request-Id"]`,
`headers.get("retry-after")`), over the transports' lower-case dict."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

__all__ = ["Headers"]


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive response headers (names kept lower-case)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str]) -> None:
        # The transports give lower-case names; a user's mapping may not.
        self._items: Mapping[str, str] = (
            dict(items) if all(k.islower() for k in items) else _lowered(items)
        )

    @classmethod
    def of_response(cls, items: Mapping[str, str]) -> Headers:
        """A `RawResponse`'s headers, wrapped as they are: lower-case names
        by the transport contract, in a mapping made for this response."""
        headers = cls.__new__(cls)
        headers._items = items
        return headers

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self._items) == {str(k).lower(): v for k, v in other.items()}
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a mapping: unhashable, as dict

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


def _lowered(items: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in items.items()}
