"""Headless Chromium (Debian's ``chromium``) as the tests drive it: load a URL, let the
page's script run, and return the DOM it left.  No Python package: ``--dump-dom`` and the
stdlib HTML parser.

Chromium runs as a green subprocess: the services under test live in this process's
eventlet hub and must keep answering the page's requests while we wait.
"""

from __future__ import annotations

import tempfile
from html.parser import HTMLParser

from eventlet.green import subprocess

from tools.chromium import chromium_path

LOAD_TIMEOUT = 90  # seconds of wall clock for one page load (a safety net, not an assertion)
VIRTUAL_TIME_MS = 8000


def dump_dom(url: str) -> str:
    """The DOM after the page's scripts ran (a fresh profile each time: no stored token)."""
    with tempfile.TemporaryDirectory(prefix="gridgov-chromium-") as profile:
        command = [chromium_path(), "--headless=new", "--no-sandbox", "--disable-gpu",
                   "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
                   f"--user-data-dir={profile}", f"--virtual-time-budget={VIRTUAL_TIME_MS}",
                   "--dump-dom", url]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = process.communicate(timeout=LOAD_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise AssertionError(f"chromium did not finish loading {url}") from None
    if process.returncode != 0 or not out.strip():
        raise AssertionError(f"chromium failed ({process.returncode}): {err.decode()[-2000:]}")
    return out.decode("utf-8")


class Node:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node] = []
        self.text_parts: list[str] = []

    @property
    def text(self) -> str:
        """All text inside, children included, whitespace collapsed."""
        parts = list(self.text_parts)
        for child in self.children:
            parts.append(child.text)
        return " ".join(" ".join(parts).split())

    def iter(self):
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        """Descendants by tag and attributes (``data_grid_code`` means data-grid-code;
        a value of True means "present")."""
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [n for n in self.iter() if n is not self and (tag is None or n.tag == tag)
                and all((k in n.attrs) if v is True else n.attrs.get(k) == v
                        for k, v in wanted.items())]

    def by_id(self, node_id: str) -> Node:
        found = self.find_all(id=node_id)
        assert found, f"no element #{node_id} in the page"
        return found[0]


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
        "source", "track", "wbr"}


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v if v is not None else "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        node = Node(tag, {k: v if v is not None else "" for k, v in attrs}, self.current)
        self.current.children.append(node)

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.text_parts.append(data)


def parse(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root
