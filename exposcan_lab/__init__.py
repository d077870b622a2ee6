"""The practice lab: a medical practice's network, with real Debian servers
(Orthanc, Samba, nginx, dcmtk, miniupnpd), in Linux network namespaces.

    with Lab.up() as lab:
        lab.run("ws", ["echoscu", "-aec", "CABINETRADIO", "198.18.0.10", "104"])

Standalone: nothing here imports the rest of exposcan. The address plan and
the canary data are in :mod:`exposcan_lab.topology`.
"""

from .lab import Lab, LabError, missing_requirements

__all__ = ["Lab", "LabError", "missing_requirements"]
