"""exposcan: finds the medical images a practice network exposes.

Evidence never holds patient data: counts, ports, products, versions and
share names only (see README, "What a report never holds").
"""

__version__ = "0.1.0"
