"""The documentation holds together: README.md stays a front page, every relative link in it
and in docs/ reaches a file of the repository (and its #anchor a heading of that file, by
GitHub's rules), and docs/README.md, the index, links every page of docs/."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_LINES = 200

_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target) and ![alt](target), text with one level of nested brackets, an optional title.
_INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def pages() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def _prose(text: str) -> Iterator[str]:
    """The lines of a Markdown text outside fenced code blocks."""
    fenced = None
    for line in text.splitlines():
        fence = _FENCE.match(line)
        if fence and (fenced is None or fence.group(1) == fenced):
            fenced = fence.group(1) if fenced is None else None
            continue
        if fenced is None:
            yield line


def links(text: str) -> list[str]:
    """Every link target of a Markdown text, outside code blocks and code spans."""
    out: list[str] = []
    for line in _prose(text):
        if definition := _DEFINITION.match(line):
            out.append(definition.group(1))
            continue
        out += _INLINE.findall(_CODE_SPAN.sub("", line))
    return out


def slug(heading: str) -> str:
    """A heading's anchor as GitHub writes it: the rendered text lower-cased, punctuation other
    than '-' and '_' dropped, each space a '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a page's headings; a repeated one gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    for line in _prose(text):
        if heading := _HEADING.match(line):
            base = slug(heading.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            out.add(base if count == 0 else f"{base}-{count}")
    return out


def broken(page: Path) -> list[str]:
    """The relative links of a page that reach no file of the repository, or no heading."""
    out = []
    for target in links(page.read_text()):
        if _SCHEME.match(target):
            continue
        path, _, anchor = target.partition("#")
        if path.startswith("/"):
            out.append(f"{target}: absolute; link relative to the page")
            continue
        dest = (page.parent / path).resolve() if path else page.resolve()
        if not dest.is_relative_to(ROOT) or not dest.exists():
            out.append(f"{target}: no such file in the repository")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text()):
            out.append(f"{target}: no heading of {dest.relative_to(ROOT)} has this anchor")
    return out


def test_readme_is_a_front_page() -> None:
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines: move details to docs/"


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    assert broken(page) == []


def test_the_index_links_every_page() -> None:
    index = DOCS / "README.md"
    linked = {
        (index.parent / t.partition("#")[0]).resolve()
        for t in links(index.read_text())
        if not _SCHEME.match(t) and t.partition("#")[0]
    }
    unlinked = [
        str(p.relative_to(ROOT)) for p in sorted(DOCS.rglob("*.md")) if p not in {index, *linked}
    ]
    assert unlinked == [], "link them from docs/README.md"


def test_the_checks_see_what_github_renders() -> None:
    text = "\n".join(
        [
            "# Install (for platform engineers)",
            "## `make e2e`: the control plane",
            "## Why it is cluster-scoped",
            "## Why it is cluster-scoped",
            "```sh",
            "# not a heading [nor a link](nowhere.md)",
            "```",
            "A [link](a.md#b), an ![image](img.png), `[code](not-a-link.md)` and",
            "[a definition]: c.md",
        ]
    )
    assert anchors(text) == {
        "install-for-platform-engineers",
        "make-e2e-the-control-plane",
        "why-it-is-cluster-scoped",
        "why-it-is-cluster-scoped-1",
    }
    assert links(text) == ["a.md#b", "img.png", "c.md"]
