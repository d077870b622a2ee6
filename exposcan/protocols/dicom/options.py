"""The DICOM probe's options: who it says it is, how long it waits, how much
it asks.  Imports only the AE title's syntax (a leaf), named by the registry entry,
read by the probe through ``config.options_for(DicomOptions)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from exposcan.protocols.dicom.aetitle import valid_ae_title


@dataclass(frozen=True)
class DicomOptions:
    protocol: ClassVar[str] = "dicom"

    #: The calling AE title of every association (``--calling-ae``).
    calling_ae: str = "EXPOSCAN"
    #: Associations at most per port while guessing the called AE title
    #: (hints, then the catalogue's defaults, the random-AE check included).
    max_ae_guesses: int = 10
    #: How long a DICOM node may take to answer an A-ASSOCIATE-RQ: the
    #: requestor's ARTIM timer (PS3.8 §9.1.4), 30 s as dcmtk's and pynetdicom's
    #: ACSE timeouts. dcmtk-based servers (storescp, dcmqrscp, Horos) look the
    #: caller's name up first: 5-50 s where the practice's DNS drops queries.
    association_timeout: float = 30.0
    #: C-FIND answers counted at most (studies, worklist items): past it the
    #: count is reported as capped and the query cancelled.
    find_cap: int = 50

    def __post_init__(self) -> None:
        if not valid_ae_title(self.calling_ae):
            raise ValueError(
                f"calling AE title {self.calling_ae!r}: 1-16 characters, "
                "no backslash, no control character, not only spaces (PS3.5 §6.2)"
            )
        if self.max_ae_guesses < 1:
            raise ValueError("max_ae_guesses: at least 1")
        if not self.association_timeout > 0:
            raise ValueError("association_timeout: a positive number of seconds")
        if self.find_cap < 1:
            raise ValueError("find_cap: at least 1")
