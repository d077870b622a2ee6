"""What a service's software is and what is known against it: CPE names
(:mod:`.products`), advisories (:mod:`.advisories`), the per-scan pass that
joins them (:mod:`.identify`), decoys (:mod:`.decoys`) and the offline
advisory importer (:mod:`.importer`, :mod:`.cli`)."""
