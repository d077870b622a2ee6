"""The reflector: an outside view of a practice, on request.

A small HTTPS service on a server outside any practice (a contractor's VPS, a
CERT's server) scans back, with the internet vantage, the address a request
came from, and answers with that exposcan.report/1 report.  As ShieldsUP! and
the public port checkers do, it never scans an IPv4 address a request names:
only the source it sees (for IPv6, addresses the client names inside the
source's own /56, a practice's delegated prefix).

``client`` is what a LAN scan calls (``--outside URL``); ``server``,
``limits``, ``tokens`` and ``jobs`` are the service; ``wire`` is the contract
between them.
"""
