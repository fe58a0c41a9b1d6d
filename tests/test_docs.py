"""The docs cannot rot: the ```python blocks of README.md and docs/*.md run, their links resolve,
and docs/api.md is what docs/make_api.py generates from the public API.

A block runs when its info string is exactly ``python``; blocks of one file run in order in one
namespace. ```` ```python no-run ```` (any word after ``python``) marks an illustrative block, and
every python block of docs/design.md is illustrative (code to put inside graphgrad/): those are
only compiled, so their syntax still cannot rot.
"""
from __future__ import annotations

import difflib
import html
import importlib.util
import inspect
import re
import shutil
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import graphgrad as gg

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ILLUSTRATIVE_FILES = {"docs/design.md"}
MUST_RUN = ["README.md", "docs/tutorial.md"]  # pages whose examples are the point: they must have some

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)\)")
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).+?(?<!`)\1(?!`)", re.DOTALL)  # closes on a run of equal length


@dataclass(frozen=True)
class Block:
    """One fenced code block: its info string, its code, and the line of its first code line."""

    info: str
    code: str
    line: int


def code_blocks(text: str, where: str) -> list[Block]:
    """The fenced code blocks of a markdown text, dedented by their fence's indentation."""
    blocks: list[Block] = []
    lines = text.split("\n")
    k = 0
    while k < len(lines):
        opening = _FENCE.match(lines[k])
        k += 1
        if not opening:
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        body: list[str] = []
        while k < len(lines) and not re.fullmatch(rf" *{re.escape(fence[0])}{{{len(fence)},}} *", lines[k]):
            body.append(lines[k][indent:] if lines[k][:indent].strip() == "" else lines[k].lstrip())
            k += 1
        if k == len(lines):
            raise ValueError(f"{where}: the code block opened at line {len(lines) - len(body)} is never closed")
        blocks.append(Block(opening["info"].strip(), "\n".join(body) + "\n", k - len(body) + 1))
        k += 1
    return blocks


def is_python(block: Block) -> bool:
    return block.info.split()[:1] == ["python"]


def runs(block: Block, relative: str) -> bool:
    return block.info == "python" and relative not in ILLUSTRATIVE_FILES


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_{name}", ROOT / "docs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_page(text: str, where: str) -> None:
    """Compile every python block of a page and run the runnable ones in order, in one namespace;
    line numbers in tracebacks are the page's."""
    namespace: dict[str, object] = {"__name__": "__doc_example__"}
    for block in code_blocks(text, where):
        if is_python(block):
            code = compile("\n" * (block.line - 1) + block.code, where, "exec")
            if runs(block, where):
                try:
                    exec(code, namespace)  # noqa: S102 - running the docs' examples is the point
                except Exception as error:
                    raise AssertionError(f"{where}: the ```python block at line {block.line - 1} failed with "
                                         f"{type(error).__name__}: {error} (mark a block that is only an "
                                         f"illustration ```python no-run)") from error


# --- the extractor itself ------------------------------------------------------------------------
def test_code_blocks_finds_fences_info_strings_and_lines() -> None:
    text = "\n".join(["# t", "```python", "a = 1", "```", "- item", "  ```python no-run", "  b = a",
                      "  ```", "~~~~bash", "```", "echo", "~~~~", "```", "plain", "```"])
    blocks = code_blocks(text, "t.md")
    assert [(b.info, b.code, b.line) for b in blocks] == [
        ("python", "a = 1\n", 3), ("python no-run", "b = a\n", 7), ("bash", "```\necho\n", 10), ("", "plain\n", 14)]
    assert [is_python(b) for b in blocks] == [True, True, False, False]
    assert [runs(b, "docs/x.md") for b in blocks] == [True, False, False, False]
    assert not runs(blocks[0], "docs/design.md")


def test_code_blocks_rejects_an_unclosed_fence() -> None:
    with pytest.raises(ValueError, match="t.md: the code block opened at line 2 is never closed"):
        code_blocks("text\n```python\nx = 1\n", "t.md")


def test_a_failing_block_reports_its_file_and_line() -> None:
    page = "intro\n\n```python\nvalue = 1\n```\n\n```python\nassert value == 2\n```\n"
    with pytest.raises(AssertionError, match="page.md: the ```python block at line 7 failed with AssertionError") as info:
        run_page(page, "page.md")
    frames = traceback.extract_tb(info.value.__cause__.__traceback__)
    assert ("page.md", 8) in [(frame.filename, frame.lineno) for frame in frames]  # the page's own line numbers


def test_illustrative_blocks_are_compiled_but_not_run() -> None:
    run_page("```python no-run\nraise RuntimeError('not run')\n```\n", "page.md")
    run_page("```python\nraise RuntimeError('not run')\n```\n", "docs/design.md")
    with pytest.raises(SyntaxError):
        run_page("```python no-run\ndef broken(:\n```\n", "page.md")


# --- the pages -----------------------------------------------------------------------------------
@pytest.mark.parametrize("path", DOC_FILES, ids=_relative)
def test_python_blocks_run(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    run_page(path.read_text(encoding="utf-8"), _relative(path))


@pytest.mark.parametrize("name", MUST_RUN)
def test_pages_with_examples_have_runnable_blocks(name: str) -> None:
    blocks = code_blocks((ROOT / name).read_text(encoding="utf-8"), name)
    assert any(runs(b, name) for b in blocks), f"{name}: no runnable ```python block found"


def _without_code(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    for block in code_blocks(text, str(path)):
        text = text.replace(block.code.rstrip("\n"), "", 1)
    return _CODE_SPAN.sub("", text)  # inline code such as `fns[0](x)` holds no link


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a page: lowercase, punctuation dropped, spaces to '-'."""
    headings = re.findall(r"^#+ +(.+?) *$", _without_code(path), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_anchors_follow_github(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n## ops.basic\n## 7. The net, step by step\n```python\n# not a heading\n```\n")
    assert _anchors(page) == {"title", "opsbasic", "7-the-net-step-by-step"}


@pytest.mark.parametrize("path", DOC_FILES, ids=_relative)
def test_relative_links_resolve(path: Path) -> None:
    broken = []
    for match in _LINK.finditer(_without_code(path)):
        target, _, anchor = match["target"].partition("#")
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked offline
        linked = path.parent / target if target else path
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in _anchors(linked)):
            broken.append(match["target"])
    assert not broken, f"{_relative(path)} has broken links: {broken}"


# --- the API reference ---------------------------------------------------------------------------
def test_api_reference_is_current() -> None:
    expected = _load_script("make_api").render()
    actual = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    diff = "".join(list(difflib.unified_diff(actual.splitlines(True), expected.splitlines(True),
                                             "docs/api.md", "generated", n=1))[:40])
    assert actual == expected, f"docs/api.md is out of date; run: python -m docs.make_api > docs/api.md\n{diff}"


def test_api_reference_names_every_public_name() -> None:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^### `(?:class )?gg\.(\w+)", text, re.MULTILINE))
    assert documented == set(gg.__all__)


def test_api_generator_rejects_an_undocumented_public_name(monkeypatch: pytest.MonkeyPatch) -> None:
    def undocumented(x: int) -> int:
        return x

    monkeypatch.setattr(gg, "undocumented", undocumented, raising=False)
    monkeypatch.setattr(gg, "__all__", [*gg.__all__, "undocumented"])
    with pytest.raises(ValueError, match="gg.undocumented has no docstring"):
        _load_script("make_api").render()


def _public_functions() -> list[tuple[str, object]]:
    found = []
    for name in gg.__all__:
        obj = getattr(gg, name)
        if inspect.isfunction(obj):
            found.append((f"gg.{name}", obj))
        elif inspect.isclass(obj) and obj.__module__.startswith("graphgrad"):
            for attr, value in vars(obj).items():
                if isinstance(value, property):
                    value = value.fget
                if inspect.isfunction(value) and (not attr.startswith("_") or attr in ("__init__", "__call__")):
                    found.append((f"gg.{name}.{attr}", value))
    return found


def test_public_functions_have_type_hints() -> None:
    functions = _public_functions()
    assert len(functions) > len(gg.__all__) / 2
    missing = []
    for where, function in functions:
        signature = inspect.signature(function)
        params = [p for p in signature.parameters.values() if p.name not in ("self", "cls")]
        missing += [f"{where}({p.name})" for p in params if p.annotation is inspect.Parameter.empty]
        if signature.return_annotation is inspect.Signature.empty and not where.endswith("__init__"):
            missing.append(f"{where} -> ?")
    assert not missing, f"public functions without type hints: {missing}"


# --- the graph picture ---------------------------------------------------------------------------
def _small_step() -> gg.Function:
    W = gg.shared(np.zeros((7, 3), "float32"), name="W")
    ids, target = gg.ivector("ids"), gg.scalar("target")
    p = gg.sigmoid(gg.take(W, ids).sum())
    return gg.function([ids, target], p, updates=[(W, W - 0.1 * gg.grad(gg.binary_crossentropy(p, target), W))])


def test_dot_text_labels_a_training_step() -> None:
    step = _small_step()
    text = gg.to_dot(step)
    assert text == gg.to_dot(step)  # names by position: rendering twice gives the same files
    for label in ['"output 0"', '"update W"', "row_gradient\\nrow-sparse (7, 3)", "dec_rows\\n(7, 3)",
                  "W [shared float32 matrix]\\n(7, 3)", '"0.1 [constant float32 scalar]"', '"target [input float32 scalar]"']:
        assert label in text
    # one edge per node input, plus one into each sink (an output, an update)
    assert text.count("->") == sum(len(node.inputs) for node in gg.toposort(step.outputs + step.update_values)) + 2


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (optional) is not installed")
def test_graph_pictures_render(tmp_path: Path) -> None:
    png, svg = _load_script("make_sentiment_graph").render(gg.to_dot(_small_step()), tmp_path / "step")
    assert png.read_bytes().startswith(b"\x89PNG")
    text = html.unescape(svg.read_text())  # Graphviz writes '-' as &#45;
    for label in ("update W", "output 0", "row_gradient", "row-sparse (7, 3)", "W [shared float32 matrix]"):
        assert label in text
