"""What every HTML report must be, whatever scan made it: self-contained (no
script, nothing loaded from anywhere) and free of markup that came from the
network."""

from __future__ import annotations

import re
from html.parser import HTMLParser

#: Attributes through which a document loads or runs something.
URL_ATTRS = {
    "src",
    "href",
    "xlink:href",
    "action",
    "formaction",
    "srcset",
    "poster",
    "data",
    "background",
    "ping",
    "manifest",
    "codebase",
    "cite",
}
FORBIDDEN_TAGS = {
    "script",
    "link",
    "iframe",
    "frame",
    "object",
    "embed",
    "img",
    "image",
    "video",
    "audio",
    "source",
    "use",
    "foreignobject",
    "base",
    "form",
}


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def parse(html: str) -> _Collect:
    parser = _Collect()
    parser.feed(html)
    parser.close()
    return parser


def assert_self_contained(html: str) -> None:
    doc = parse(html)
    names = [t for t, _ in doc.tags]
    assert names[:1] == ["html"] and html.lstrip().lower().startswith("<!doctype html>")
    bad_tags = sorted({t for t in names if t in FORBIDDEN_TAGS})
    assert bad_tags == [], bad_tags
    for tag, attrs in doc.tags:
        for name, value in attrs.items():
            # No event handler, and no URL but an in-page anchor.
            assert not name.startswith("on"), (tag, name)
            if name in URL_ATTRS:
                assert value.startswith("#"), (tag, name, value)
            assert "javascript:" not in value.lower(), (tag, name)
        if tag == "meta" and attrs.get("http-equiv", "").lower() == "refresh":
            raise AssertionError("meta refresh")
    style = "\n".join(doc.styles)
    assert "@import" not in style and not re.search(r"url\s*\(", style)
    assert "@font-face" not in style
    # The browser itself refuses to load anything: the CSP says so.
    csp = [
        a.get("content", "")
        for t, a in doc.tags
        if t == "meta" and a.get("http-equiv", "").lower() == "content-security-policy"
    ]
    assert csp and "default-src 'none'" in csp[0] and "script-src" not in csp[0]
