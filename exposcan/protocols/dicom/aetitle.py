"""The AE title's syntax, apart from the PDU codecs.

Its own module so that the catalogue's DICOM kind, loaded by every scan,
does not import pynetdicom and pydicom (half a second): a scan that meets no
DICOM service never needs them (start-up time).
"""

from __future__ import annotations

import re

# PS3.5 §6.2 (AE VR): 1-16 characters, no backslash, no control characters,
# not only spaces.
_AE = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")


def valid_ae_title(title: str) -> bool:
    return bool(_AE.match(title)) and bool(title.strip())
