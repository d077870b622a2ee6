"""Sub-paths a root page leads to on its own host (a PACS behind a proxy)."""

from __future__ import annotations

from exposcan.protocols.http.subpaths import MAX_PREFIXES, prefixes, same_host_paths

KNOWN = ["/system", "/app/explorer.html", "/dicom-web/studies?limit=1", "/"]


def test_links_on_the_host_become_paths_and_others_are_dropped() -> None:
    # Given a portal page with links of every kind
    html = (
        '<a href="/pacs/app/explorer.html">PACS</a><a href="viewer/">v</a>'
        '<a href="https://elsewhere.invalid/pacs/">x</a><a href="//cdn.invalid/a.js">y</a>'
        '<a href="mailto:a@b.invalid">m</a><meta http-equiv="refresh" content="0; url=/web/">'
    )
    # Then only this host's paths are kept, relative ones resolved
    assert same_host_paths("/portail/index.html", html) == [
        "/pacs/app/explorer.html",
        "/portail/viewer/",
        "/web/",
    ]


def test_a_fingerprint_path_at_the_end_names_the_prefix() -> None:
    # Given links to a proxied Orthanc and to a folder
    found = prefixes(["/pacs/app/explorer.html", "/imagerie/"], KNOWN)
    # Then the exact prefix comes first, then the folders
    assert found == ["/pacs", "/imagerie"]


def test_prefixes_are_bounded_and_never_the_root() -> None:
    paths = ["/", "/index.html", *[f"/d{i}/" for i in range(10)]]
    found = prefixes(paths, KNOWN)
    assert "/" not in found and "" not in found
    assert len(found) == MAX_PREFIXES


def test_garbage_markup_gives_no_path() -> None:
    assert same_host_paths("/", "<a href='http://[::1'>") == []
