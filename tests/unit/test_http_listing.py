"""Directory listing detection and link extraction (no network)."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from exposcan.catalogue import default_catalogue
from exposcan.protocols.http.client import HttpClient, HttpResponse
from exposcan.protocols.http.listing import children, detect_listing, listing_config


def page(body: str, status: int = 200, server: str = "") -> HttpResponse:
    headers = CIMultiDictProxy(CIMultiDict({"Server": server} if server else {}))
    return HttpResponse(status=status, headers=headers, body=body.encode(), url="/", tls=False)


NGINX = """<html>
<head><title>Index of /archives/</title></head>
<body>
<h1>Index of /archives/</h1><hr><pre><a href="../">../</a>
<a href="2018/">2018/</a>                                              01-Jan-2020 10:00       -
<a href="IM000003">IM000003</a>                                           01-Jan-2020 10:00    1234
</pre><hr></body>
</html>"""

APACHE = """<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html><head><title>Index of /archives</title></head><body>
<h1>Index of /archives</h1>
<table><tr><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th></tr>
<tr><td><a href="/">Parent Directory</a></td></tr>
<tr><td><a href="2018/">2018/</a></td></tr>
<tr><td><a href="IM000003">IM000003</a></td></tr>
</table>
<address>Apache/2.4.57 (Debian) Server at 198.18.0.30 Port 80</address>
</body></html>"""

PYTHON = """<!DOCTYPE HTML>
<html lang="en"><head><title>Directory listing for /archives/</title></head>
<body><h1>Directory listing for /archives/</h1><hr><ul>
<li><a href="2018/">2018/</a></li>
<li><a href="IM000003">IM000003</a></li>
</ul><hr></body></html>"""

IIS = """<html><head><title>host - /archives/</title></head><body><H1>host - /archives/</H1><hr>
<pre><A HREF="/">[To Parent Directory]</A><br><br>
 1/1/2020 10:00 AM        &lt;dir&gt; <A HREF="/archives/2018/">2018</A><br>
 1/1/2020 10:00 AM         1234 <A HREF="/archives/IM000003">IM000003</A><br></pre>
<hr></body></html>"""

LIGHTTPD = """<html><head><title>Index of /archives/</title></head><body>
<h2>Index of /archives/</h2><div class="list"><table>
<tr><td class="n"><a href="../">..</a>/</td></tr>
<tr><td class="n"><a href="2018/">2018</a>/</td></tr>
<tr><td class="n"><a href="IM000003">IM000003</a></td></tr>
</table></div><div class="foot">lighttpd/1.4.69</div></body></html>"""


@pytest.mark.parametrize(
    ("body", "server", "family"),
    [
        (NGINX, "nginx/1.22.1", "nginx"),
        (APACHE, "Apache/2.4.57 (Debian)", "Apache"),
        (PYTHON, "SimpleHTTP/0.6 Python/3.11.2", "Python http.server"),
        (IIS, "Microsoft-IIS/10.0", "IIS"),
        (LIGHTTPD, "lighttpd/1.4.69", "lighttpd"),
    ],
)
def test_listing_families(body: str, server: str, family: str) -> None:
    # Given the automatic index page of a server family
    resp = page(body, server=server)
    # When it is examined
    # Then it is recognised as a listing of that family, and its two
    # children (a folder and a file) are extracted, parent and sort links not
    assert detect_listing(resp, default_catalogue().derived(listing_config)) == family
    assert children("/archives/", body) == ["/archives/2018/", "/archives/IM000003"]


def test_not_a_listing() -> None:
    # Given an ordinary page, and a listing that answered 404
    config = default_catalogue().derived(listing_config)
    # Then neither is a listing
    assert (
        detect_listing(
            page("<html><title>Welcome to nginx!</title></html>", server="nginx"), config
        )
        is None
    )
    assert detect_listing(page(NGINX, status=404, server="nginx"), config) is None


def test_links_never_leave_the_folder_or_host() -> None:
    # Given links to another host, another scheme, a parent, a sibling, a query
    html = """<a href="http://203.0.113.9/x.dcm">a</a><a href="//evil/x">b</a>
    <a href="javascript:alert(1)">c</a><a href="../other/">d</a><a href="/other/x">e</a>
    <a href="?C=N;O=D">f</a><a href="#top">g</a><a href="sub%20dir/">h</a><a href="f.dcm">i</a>
    <a href="f.dcm">dup</a>"""
    # When children are extracted
    # Then only in-folder paths remain, de-duplicated, encoding kept
    assert children("/base/", html) == ["/base/sub%20dir/", "/base/f.dcm"]


def test_garbage_html_does_not_raise() -> None:
    # Given truncated or hostile markup
    # Then link extraction returns what it can
    assert children("/", '<a href="x.dcm"><a href="y') == ["/x.dcm"]
    assert children("/", "\x00<<<>>>&#xffffffff;") == []


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/app/explorer.html", "/app/explorer.html"),
        ("explorer.html", "/app/explorer.html"),
        ("http://127.0.0.1:8042/x", "/x"),
        ("http://127.0.0.2:8042/x", None),  # another host
        ("http://127.0.0.1:9999/x", None),  # another port
        ("https://127.0.0.1:8042/x", None),  # another transport
        ("ftp://127.0.0.1/x", None),
        ("", None),
    ],
)
def test_redirects_stay_on_the_host(location: str, expected: str | None) -> None:
    # Given a client for 127.0.0.1:8042 over plain HTTP
    client = HttpClient("127.0.0.1", 8042, False, None, None)  # type: ignore[arg-type]
    # Then only a same host, port and transport Location is followed
    assert client._same_origin(location, "/app/index.html") == expected
