"""Generate docs/api.md from ``graphgrad.__all__``: every public name with its signature and the
first paragraph of its docstring, grouped by the module that defines it, in pipeline order.

Usage, from the repository root: ``python -m docs.make_api > docs/api.md``. tests/test_docs.py
fails when the committed file differs from a fresh run, or when a public function, class or method
has no docstring (a public value needs a ``#:`` comment above its assignment instead).
"""
from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path
from typing import Any, ForwardRef

import graphgrad as gg

# The pipeline order of docs/design.md; a module not listed here goes last.
MODULE_ORDER = ["config", "types", "graph", "ops.basic", "ops.elemwise", "ops.reductions", "ops.shapes",
                "ops.linalg", "ops.indexing", "ops.nnet", "sparse", "grad", "rewrite", "printing", "compile",
                "debug", "testing", "optim", "io"]
PACKAGE_DIR = Path(gg.__file__).parent


class _Raw(str):
    """An annotation printed as written in the source, without the quotes of a forward reference."""

    def __repr__(self) -> str:
        return self.strip("'\"")


def _raw(annotation: Any) -> Any:
    if isinstance(annotation, ForwardRef):
        return _Raw(annotation.__forward_arg__)
    return _Raw(annotation) if isinstance(annotation, str) else annotation


def signature(obj: Any, drop_self: bool = False) -> str:
    """``(a: int, b: str = 'x') -> float`` with annotations as written in the source."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return ""
    params = list(sig.parameters.values())[1 if drop_self else 0:]
    params = [p.replace(annotation=_raw(p.annotation)) for p in params]
    sig = sig.replace(parameters=params, return_annotation=_raw(sig.return_annotation))
    text = str(sig)
    if re.search(r" at 0x[0-9a-f]+", text):
        raise ValueError(f"{obj!r}: a default value prints with a memory address: {text}")
    return text


def summary(doc: str | None, where: str) -> str:
    """The first paragraph of a docstring on one line; a missing docstring is an error naming ``where``."""
    if not doc or not doc.strip():
        raise ValueError(f"{where} has no docstring")
    return " ".join(line.strip() for line in inspect.cleandoc(doc).split("\n\n")[0].splitlines())


def data_comments(path: Path) -> dict[str, str]:
    """The module-level names documented by a ``#:`` comment block above their assignment, with
    the comment's text: values (a dict, a sentinel, a setting) have no docstring of their own."""
    pattern = re.compile(r"((?:^#:.*\n)+)^(\w+)\s*[:=]", re.MULTILINE)
    return {match.group(2): " ".join(line[2:].strip() for line in match.group(1).splitlines())
            for match in pattern.finditer(path.read_text())}


def data_comment(name: str) -> tuple[str, str]:
    """``(module, text)`` of the ``#:`` comment above ``name = ...`` in graphgrad's sources."""
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        comments = data_comments(path)
        if name in comments:
            return ".".join(path.relative_to(PACKAGE_DIR).with_suffix("").parts), comments[name]
    raise ValueError(f"gg.{name} is a value without a '#:' comment above its assignment in graphgrad/")


def short_module(module: str) -> str:
    """``graphgrad.ops.nnet`` -> ``ops.nnet``."""
    return module.removeprefix("graphgrad.").removeprefix("graphgrad")


def class_entry(name: str, cls: type) -> list[str]:
    """A class: its bases and constructor, then its own public methods and properties."""
    bases = ", ".join(b.__name__ for b in cls.__bases__ if b is not object)
    head = f"class gg.{name}" + (f"({bases})" if bases else "")
    ctor = signature(cls) if "__init__" in vars(cls) or "__new__" in vars(cls) else ""
    lines = [f"### `{head}`", "", summary(inspect.getdoc(cls), f"gg.{name}")]
    if ctor:
        lines += ["", f"Constructor: `gg.{name}{ctor}`"]
    members = []
    for attr, value in vars(cls).items():
        if attr.startswith("_") and attr != "__call__":
            continue
        where = f"gg.{name}.{attr}"
        if isinstance(value, property):
            members.append(f"- `.{attr}` (property): {summary(value.__doc__, where)}")
        elif inspect.isfunction(value):
            members.append(f"- `.{attr}{signature(value, drop_self=True)}`: {summary(value.__doc__, where)}")
    if members:
        lines += [""] + members
    return lines


def entry(name: str, obj: Any) -> tuple[str, list[str]]:
    """``(module, markdown lines)`` for one public name."""
    if inspect.ismodule(obj):
        settings = [f"- `gg.{name}.{attr}`: {text}" for attr, text in data_comments(Path(obj.__file__)).items()]
        return short_module(obj.__name__), [f"### `gg.{name}` (module)", "", summary(obj.__doc__, f"gg.{name}"),
                                            "", *settings]
    if inspect.isclass(obj):
        return short_module(obj.__module__), class_entry(name, obj)
    if callable(obj) and hasattr(obj, "__module__"):
        return short_module(obj.__module__), [f"### `gg.{name}{signature(obj)}`", "",
                                              summary(inspect.getdoc(obj), f"gg.{name}")]
    module, text = data_comment(name)
    return module, [f"### `gg.{name}` ({type(obj).__name__})", "", text]


def _names(entries: list[list[str]]) -> list[str]:
    return sorted(re.search(r"gg\.(\w+)", lines[0]).group(1) for lines in entries)


def render() -> str:
    """The text of docs/api.md."""
    sections: dict[str, list[list[str]]] = {}
    for name in gg.__all__:
        module, lines = entry(name, getattr(gg, name))
        sections.setdefault(module, []).append(lines)
    order = sorted(sections, key=lambda m: (MODULE_ORDER.index(m) if m in MODULE_ORDER else len(MODULE_ORDER), m))
    out = ["# API reference", "",
           "Every name in `graphgrad.__all__` (`import graphgrad as gg`), grouped by the module that defines it, "
           "in the order of the pipeline (see [design.md](design.md)). Generated from the docstrings by "
           "`python -m docs.make_api > docs/api.md`; do not edit by hand (tests/test_docs.py checks it is current).",
           ""]
    out += [f"- [`{m}`](#{m.replace('.', '')}): " + ", ".join(_names(sections[m])) for m in order]
    for module in order:
        doc = sys.modules[f"graphgrad.{module}"].__doc__
        out += ["", f"## {module}", "", summary(doc, f"graphgrad.{module}")]
        for lines in sorted(sections[module], key=lambda lines: lines[0].lower()):
            out += [""] + lines
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
