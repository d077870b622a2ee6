"""What the test rings share: one way to run the CLI (:mod:`.cli`), one
lab scan result (:mod:`.lab_scan`), the browser fixture (:mod:`.browser`),
and in-process scans of a protocol on any port (:mod:`.local_ports`)."""
