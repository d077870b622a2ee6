"""The reflector: an outside view of a practice, on request.

A small HTTPS service on a server outside any practice (a contractor's VPS, a
CERT's server) scans back, with the internet vantage, the address a request
came from, and answers with that exposcan.report/1 report.  As ShieldsUP! and
the public port checkers do, it never scans an IPv4 address a request names:
only the source it sees (for IPv6, addresses the client names inside the
source's own /56, a practice's delegated prefix).

``client`` is what a LAN scan calls (``--outside URL``); the service is
``gate`` (connections, before TLS), ``server`` (the requests), ``scope`` (what
a request may have scanned), ``quota`` (what it remembers), ``tokens``,
``jobs`` and ``worker`` (the scans), ``signing`` (jobs and results between
them); ``wire`` is the contract between client and service.
"""
