"""Where else on this host a web product may live: a PACS behind a reverse
proxy at a sub-path (nginx ``location /pacs/ { proxy_pass ...; }`` in front
of Orthanc: ``/pacs/app/explorer.html``, ``/pacs/dicom-web/``).

The catalogue's fingerprints name paths from a product's own root; behind a
proxy they sit under a prefix that only the site knows. The root page tells
it: its redirect (followed within the host by the client) and its links.
Every candidate stays on this host and port; a handful are tried, no more
(a sub-path PACS was missed).
"""

from __future__ import annotations

from collections.abc import Iterable
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

#: Sub-path prefixes tried at most per service.
MAX_PREFIXES = 3
#: Links read from the root page at most (a portal, not a listing).
MAX_LINKS = 200
_BASE = "http://h"  # a stand-in origin: links resolved against it stay on it or not


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if len(self.found) >= MAX_LINKS:
            return
        values = dict(attrs)
        for name in ("href", "src", "action"):
            value = values.get(name)
            if value:
                self.found.append(value)
        # <meta http-equiv="refresh" content="0; url=/pacs/">
        if tag == "meta" and (values.get("http-equiv") or "").lower() == "refresh":
            content = values.get("content") or ""
            _, _, url = content.partition("=")
            if url.strip():
                self.found.append(url.strip().strip("'\""))


def same_host_paths(page_url: str, html: str) -> list[str]:
    """Paths (no query) that the page's links lead to on its own host:port."""
    parser = _Links()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # HTMLParser on hostile markup
        pass
    base = _BASE + (page_url if page_url.startswith("/") else "/")
    out: list[str] = []
    for link in parser.found:
        try:
            target = urlsplit(urljoin(base, link.strip()))
        except ValueError:
            continue
        if f"{target.scheme}://{target.netloc}" != _BASE or not target.path.startswith("/"):
            continue
        out.append(target.path)
    return list(dict.fromkeys(out))


def prefixes(paths: Iterable[str], known: Iterable[str]) -> list[str]:
    """Sub-path prefixes, best first: a path ending with a fingerprint's own
    path gives what precedes it (``/pacs/app/explorer.html`` -> ``/pacs``);
    any other path its first folder (``/pacs/`` -> ``/pacs``)."""
    suffixes = sorted({k.split("?", 1)[0].rstrip("/") for k in known if len(k) > 1}, key=len)
    exact: list[str] = []
    folders: list[str] = []
    for path in paths:
        for suffix in reversed(suffixes):  # longest first
            if suffix and path.rstrip("/").endswith(suffix) and len(path.rstrip("/")) > len(suffix):
                exact.append(path.rstrip("/")[: -len(suffix)].rstrip("/"))
                break
        segments = [s for s in path.split("/") if s]
        if segments and (len(segments) > 1 or path.endswith("/")):
            folders.append("/" + segments[0])
    out = [p for p in dict.fromkeys(exact + folders) if p and p != "/" and len(p) <= 64]
    return out[:MAX_PREFIXES]
