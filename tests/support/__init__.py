"""What the test rings share: one way to run the CLI (:mod:`.cli`), one lab
scan result (:mod:`.lab_scan`), the browser fixture (:mod:`.browser`),
in-process scans of a protocol on a free port (:mod:`.local_ports`), and
what a test does when a tool it needs is absent (:mod:`.requirements`)."""
