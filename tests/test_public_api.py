"""Every public name (`batchdelete.__all__`) is documented twice: in the code,
by a docstring of its own, and for the reader, in README.md or a text file
under docs/.

- Classes and functions need a docstring of their own: a class's
  `__doc__` must be in its own `__dict__` (one inherited from a base class
  does not count, nor the signature a dataclass generates in its place).
  An alias such as `RequestTooLargeError` is the very class it names, so
  its class's docstring is its own (which says so).
- Constants (`BATCH_ID_PATTERN`, `__version__`), type aliases and other
  instances (the `hookimpl` marker) cannot carry a docstring of their own:
  their `__doc__` is their type's (str's, pluggy's `HookimplMarker`'s). They
  are held to the second rule only: the README or docs say what they are.
- "Appears" means as a whole word, as in `batchdelete.Client` or
  backticks; `APIResponse` inside `APIResponseValidationError` does not
  count.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import batchdelete

ROOT = Path(__file__).resolve().parent.parent
DOC_SUFFIXES = (".md", ".rst", ".txt")


def documentation() -> str:
    """README.md and every text file under docs/, as one text."""
    files = [ROOT / "README.md"]
    docs = ROOT / "docs"
    if docs.is_dir():
        files += sorted(p for p in docs.rglob("*") if p.is_file() and p.suffix in DOC_SUFFIXES)
    return "\n".join(p.read_text(encoding="utf-8") for p in files)


def appears(name: str, text: str) -> bool:
    """Whether `name` is in `text` as a whole word."""
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text) is not None


def own_docstring(obj: object) -> str | None:
    """The docstring `obj` has of its own, or None."""
    if inspect.isclass(obj):
        doc = obj.__dict__.get("__doc__")
        if not isinstance(doc, str) or doc.startswith(f"{obj.__name__}("):  # a dataclass's
            return None
        return doc.strip() or None
    return (inspect.getdoc(obj) or "").strip() or None


def carries_a_docstring(obj: object) -> bool:
    """Whether `obj` can have a docstring of its own: a class or a function."""
    return inspect.isclass(obj) or inspect.isroutine(obj)


def test_the_public_names_are_many() -> None:
    """The checks below are not vacuous: the API is where they look."""
    assert len(batchdelete.__all__) > 50
    assert all(hasattr(batchdelete, name) for name in batchdelete.__all__)


def test_every_public_class_and_function_has_a_docstring_of_its_own() -> None:
    missing = [
        name
        for name in batchdelete.__all__
        if carries_a_docstring(obj := getattr(batchdelete, name)) and own_docstring(obj) is None
    ]
    assert missing == [], f"no docstring of their own: {missing}"


def test_every_public_name_appears_in_the_readme_or_docs() -> None:
    text = documentation()
    missing = [name for name in batchdelete.__all__ if not appears(name, text)]
    assert missing == [], f"not in README.md nor docs/: {missing}"


def test_a_name_only_counts_as_a_whole_word() -> None:
    assert not appears("APIResponse", "`APIResponseValidationError`")
    assert not appears("Client", "AsyncClient")
    assert appears("__version__", "`batchdelete.__version__`")
    assert appears("Client", "`Client()`")


def test_an_inherited_or_generated_docstring_is_not_its_own() -> None:
    class Base:
        """Documented."""

    class Child(Base):
        pass

    @dataclasses.dataclass
    class Generated:
        x: int

    assert own_docstring(Base) == "Documented."
    assert own_docstring(Child) is None
    assert own_docstring(Generated) is None
