"""Join a public door to the LAN service behind it, by what both answer.

A port number proves nothing (public 50104 may lead to a PACS's 104); what a
service says about itself does: the DICOM implementation class UID, version
name and the AE title it accepted (PS3.7 D.3.3.2), the web fingerprint and
what a PACS discloses (Orthanc's /system AE title and DICOM port), the SMB
server GUID (MS-SMB2 §2.2.4). A LAN service joins when every key both sides
answered is equal (what it serves and its proof count, but do not veto), at
least one of them distinctive, and no other LAN service matches as well: an
ambiguous match is no join, and the door is listed with its candidates.

Only an answer that tells one service apart is a key.  An accepted AE title
is one only on a node that refuses a random called AE (``called_ae_checked``):
a dcmtk storescp accepts any title, the PACS's one too, so the title it
accepted says nothing of which node it is.  Two nodes built on the same
toolkit (a Debian Orthanc and a storescp: dcmtk's implementation class UID
and version name) are then alike, and stay "not joined" rather than joined
to the wrong door.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: Per protocol: the keys compared.  A DICOM node's product and version are
#: not: they may come from a hint of the same host's web API, which one side
#: may lack.  What a service serves and its proof (counts: "4 imaging files
#: in a directory listing") are compared for all: they tell two servers of
#: the same make apart.
JOIN_KEYS: dict[str, tuple[str, ...]] = {
    "dicom": (
        "implementation_class_uid",
        "implementation_version",
        "ae_title",
        "imaging",
        "proof",
    ),
    "http": ("DicomAet", "DicomPort", "server", "product", "version", "imaging", "proof"),
    "smb": ("smb_server_guid", "smb_dialect", "smb_signing", "imaging", "proof"),
    # The banner's product and version, and what an anonymous walk counted.
    "ftp": (
        "product",
        "version",
        "ftp_auth_tls",
        "ftp_anonymous",
        "ftp_files_seen",
        "imaging",
        "proof",
    ),
}
#: Compared when both sides have them, but a difference is no veto: a proof
#: counts what was read, and a walk cut by its deadline counts less.
SOFT_KEYS = frozenset({"imaging", "proof"})
#: The keys that alone can tell one server from another (a product name
#: alone cannot).
DISTINCTIVE: dict[str, frozenset[str]] = {
    "dicom": frozenset({"implementation_class_uid", "ae_title"}),
    "http": frozenset({"DicomAet", "server", "version"}),
    "smb": frozenset({"smb_server_guid"}),
    "ftp": frozenset({"version", "ftp_files_seen"}),
}


@dataclass(frozen=True)
class Side:
    """One service as the join sees it: where, what protocol, what it said."""

    where: str  # host:port
    protocol: str
    facts: Mapping[str, str]
    product: str | None = None
    version: str | None = None


def signature(
    protocol: str,
    product: str | None,
    version: str | None,
    details: Mapping[str, object],
    imaging: str | None = None,
    proof: str | None = None,
) -> dict[str, str]:
    values: dict[str, object] = {
        **details,
        "product": product,
        "version": version,
        "imaging": imaging,
        "proof": proof,
    }
    if protocol == "dicom" and details.get("called_ae_checked") is not True:
        # A node that accepts any called AE (or was not asked): the title it
        # accepted is the caller's, not its own.
        values["ae_title"] = None
    return {
        key: str(values[key])
        for key in JOIN_KEYS.get(protocol, ())
        if values.get(key) not in (None, "")
    }


@dataclass(frozen=True)
class Join:
    lan: str | None
    keys: tuple[str, ...] = ()
    #: Not joined: the LAN services that matched as well as the best
    #: (host:port), none of them told apart from the others.
    alike: tuple[str, ...] = ()

    @property
    def candidates(self) -> int:
        """LAN services that matched as well as the best (1 once joined)."""
        return 1 if self.lan else len(self.alike)


def join(outside: Side, lan: Iterable[Side]) -> Join:
    distinctive = DISTINCTIVE.get(outside.protocol, frozenset())
    scored: list[tuple[tuple[int, int], Side, tuple[str, ...]]] = []
    for candidate in lan:
        if candidate.protocol != outside.protocol:
            continue
        shared = [
            k
            for k in JOIN_KEYS.get(outside.protocol, ())
            if k in outside.facts and k in candidate.facts
        ]
        hard = [k for k in shared if k not in SOFT_KEYS]
        if any(outside.facts[k] != candidate.facts[k] for k in hard):
            continue
        if not distinctive.intersection(hard):
            continue
        agreed = [
            *hard,
            *(k for k in shared if k in SOFT_KEYS and outside.facts[k] == candidate.facts[k]),
        ]
        # A key one side answered and the other did not is a difference too
        # (a reverse proxy in front of the same PACS adds its Server header):
        # among as many agreements, the fewer such keys the better.
        lone = {k for k in JOIN_KEYS.get(outside.protocol, ()) if k not in SOFT_KEYS} & (
            set(outside.facts) ^ set(candidate.facts)
        )
        scored.append(((len(agreed), -len(lone)), candidate, tuple(agreed)))
    if not scored:
        return Join(None)
    best = max(score for score, _, _ in scored)
    top = [(side, keys) for score, side, keys in scored if score == best]
    if len(top) > 1:
        return Join(None, alike=tuple(side.where for side, _ in top))
    side, keys = top[0]
    return Join(side.where, keys)
