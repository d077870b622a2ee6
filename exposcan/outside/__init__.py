"""The outside view, answered from inside the practice.

A LAN scan with ``--outside URL`` asks a reflector (``exposcan.reflector``)
to scan the request's source address back from the internet, while the LAN
scan runs; it learns the practice's public address from that answer and from
the box's UPnP; it tries the public address from inside (NAT loopback); and
it joins every public door to the LAN service behind it by what both answer.

- :mod:`.settings`: where ``--outside`` comes from (command line, environment,
  config file) and the token (a file or the environment, never argv);
- :mod:`.ask`: the one request to the reflector;
- :mod:`.address`: the public address and carrier-grade NAT;
- :mod:`.loopback`: the NAT loopback sweep from inside;
- :mod:`.join`: public door -> LAN service, by fingerprint;
- :mod:`.view`: all of it around one LAN scan, into the report's ``outside``.
"""
