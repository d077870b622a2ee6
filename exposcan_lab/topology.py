"""The practice network the lab builds: addresses, ports, services, canaries.

One source of truth for the native lab (``exposcan_lab``), the container lab
(``docker/compose.yaml``, checked against this module by
``tests/unit/test_docker_lab.py``) and the lab tests. Everything here is plain
data: importing it starts nothing.

Address plan: the LAN sits in 198.18.0.0/15 (RFC 2544 benchmarking) and the
lab "internet" in 203.0.113.0/24 (RFC 5737 TEST-NET-3), so that no lab address
can ever be a real host. Both ranges are "private" for :mod:`ipaddress`; code
must not use ``is_private`` to decide which side a scan comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Final, Literal

# --- Networks -----------------------------------------------------------------

LAN_NET: Final = IPv4Network("198.18.0.0/24")
WAN_NET: Final = IPv4Network("203.0.113.0/24")
LAN_PREFIXLEN: Final = LAN_NET.prefixlen
WAN_PREFIXLEN: Final = WAN_NET.prefixlen

BOX_LAN_IP: Final = IPv4Address("198.18.0.1")
BOX_WAN_IP: Final = IPv4Address("203.0.113.1")
INET_IP: Final = IPv4Address("203.0.113.50")

# Interface names inside the namespaces. Interface names are per network
# namespace, so every lab can use the same short names: only namespace names
# carry the lab name (``exl-<lab>-<host>``).
HOST_IF: Final = "eth0"
BOX_LAN_IF: Final = "lan0"
BOX_WAN_IF: Final = "wan0"
BRIDGE_IF: Final = "br0"

NETNS_PREFIX: Final = "exl-"
DEFAULT_LAB_NAME: Final = "lab"
#: The namespace holding the LAN bridge; not a host anybody talks to.
SWITCH: Final = "sw"

# --- Services -------------------------------------------------------------------

PACS_AET: Final = "CABINETRADIO"
PACS_DICOM_PORT: Final = 104
PACS_HTTP_PORT: Final = 8042

SECURE_AET: Final = "SECUREPACS7"
SECURE_DICOM_PORT: Final = 4242
SECURE_HTTP_PORT: Final = 8042
#: The one account of the well-configured Orthanc (not the orthanc:orthanc
#: default). A scanner must never print it: it is in SECRET_STRINGS.
SECURE_USER: Final = "radiologue"
SECURE_PASSWORD: Final = "Lab-Secure-7f3c9a-Orthanc"  # noqa: S105 (a lab account)
#: The single modality the secure PACS knows (DicomCheckModalityHost on):
#: an address that is no lab host, so nobody in the lab can pass for it.
SECURE_KNOWN_MODALITY: Final = ("CTSCANNER1", IPv4Address("198.18.0.60"), 104)

SMB_PORTS: Final = (445, 139)
NAS_GUEST_SHARE: Final = "imagerie"
NAS_PRIVATE_SHARE: Final = "compta"
NAS_PRIVATE_USER: Final = "labdoc"  # deliberately no such Unix or Samba user

WEB_HTTP_PORT: Final = 80
#: nginx on the web host, as practices add to it: an autoindex of
#: hunspell spelling dictionaries (.dic, also a DICOM extension) on 8000,
#: and the practice portal on 8080 with Orthanc behind a reverse proxy at
#: /pacs/ (proxy_pass to the open PACS's REST port).
WEB_DICT_PORT: Final = 8000
WEB_PORTAL_PORT: Final = 8080
WEB_PROXY_PREFIX: Final = "/pacs"
WEB_DICT_FOLDER: Final = "dictionnaires"

#: The public port of the PACS's DICOM forward set by hand (not in the IGD).
MANUAL_PACS_PORT: Final = 50104

#: Where the reflector (exposcan reflector serve) listens on the lab internet.
REFLECTOR_PORT: Final = 8443

MODALITY_AET: Final = "MODALITY1"
MODALITY_PORT: Final = 11112
#: The modality's DICOM over TLS (PS3.15 Annex B), dcmtk storescp +tls with
#: the lab's self-signed RSA 2048 key (docker/modality/dicom-tls.pem): on
#: 2762 as dcmtk runs it by default, requiring the caller's certificate
#: (--require-peer-cert), i.e. closed to unknown callers; on 2761
#: ignoring it (--ignore-peer-cert), i.e. open to anyone who speaks TLS.
MODALITY_TLS_PORT: Final = 2762
MODALITY_TLS_OPEN_PORT: Final = 2761
MODALITY_TLS_PEM: Final = "modality/dicom-tls.pem"
MODALITY_TLS_KEY_BITS: Final = 2048

# dcmtk servers as practices run them: no --disable-host-lookup,
# so each association waits for the practice's DNS to answer the PTR look-up
# of the caller. The lab resolver (exposcan_lab/resolver.py on DNS) drops,
# refuses or answers NXDOMAIN, per client address.
DNS_IP: Final = IPv4Address("198.18.0.53")
#: The viewer's resolv.conf (docker/viewer/resolv.conf): glibc waits 3 s
#: once per query; storescp makes 5 queries: ~15 s before it answers.
VIEWER_DNS_WAIT_S: Final = 15.0
VIEWER_AET: Final = "VIEWER1"
VIEWER_PORT: Final = 11112
ARCHIVE_AET: Final = "ARCHIVMEDIC"
ARCHIVE_PORT: Final = 11112
#: pynetdicom's qrscp app: one C-FIND response per instance at STUDY level.
QRSCP_AET: Final = "QRSCP"
QRSCP_PORT: Final = 11112

#: A RIS's DICOM worklist: dcmtk's wlmscpfs serving the scheduled procedure
#: steps of canary patients (worklist files written with pydicom). Its AE
#: folder is named after a catalogue default (wlmscpfs serves one folder per
#: called AE title): how an AE title is guessed is not what this host tests.
RIS_AET: Final = "ANY-SCP"
RIS_PORT: Final = 104
RIS_SCHEDULED_STEPS: Final = 6
#: An Orthanc with DICOMweb and no authentication, behind an nginx that
#: echoes any Origin with credentials allowed, as deployments put a web viewer
#: in front of it (Orthanc 1.10.1 itself sends no CORS header): STOW-RS and
#: CORS open. Orthanc listens on DICOMWEB_ORTHANC_PORT for nginx only (it
#: refuses other callers: RemoteAccessAllowed false); no DICOM port.
DICOMWEB_HTTP_PORT: Final = 8042
DICOMWEB_ORTHANC_PORT: Final = 8043

IGD_HTTP_PORT: Final = 49152
IGD_ROOTDESC_PATH: Final = "/rootDesc.xml"
IGD_ROOTDESC_URL: Final = f"http://{BOX_LAN_IP}:{IGD_HTTP_PORT}{IGD_ROOTDESC_PATH}"

HOSTILE_TARPIT_PORT: Final = 8080  # accepts, never sends, never closes
HOSTILE_SPEW_PORT: Final = 5678  # endless random bytes from the first moment
HOSTILE_DICOM_PORT: Final = 104  # a PDU-looking header, junk, close
HOSTILE_HTTP_PORT: Final = 80  # 200 with a chunked body that never ends

# The "hostile" host (exposcan_lab/hostile.py): each port meets the probe
# its number suggests, and misbehaves in its own way.
HUGE_DICOM_PORT: Final = 104  # A-ASSOCIATE-AC header claiming 4 GiB, then random bytes
TLS_STALL_PORT: Final = 443  # the TLS handshake never completes
SMB_STALL_PORT: Final = 445  # SMB2 NEGOTIATE answered, SESSION_SETUP never
DRIP_HTTP_PORT: Final = 3000  # response headers one byte every 2 s
RESET_PORT: Final = 4242  # accepts, resets at the first bytes
#: Not in the default port list: only an SSDP answer leads there.
BOMB_XML_PORT: Final = 49153  # billion laughs + XXE device description

# The "hostile2" host: services that answer, and lie.
ABORT_DICOM_PORT: Final = 104  # A-ASSOCIATE-AC, then A-ABORT at once
DRIP_DICOM_PORT: Final = 11112  # the C-ECHO answer one byte a second
FLOOD_DICOM_PORT: Final = 4242  # C-ECHO responses to another message ID, without end
TINY_PDU_DICOM_PORT: Final = 5678  # a 16-byte maximum PDU; answers C-ECHO
SMB_DRIP_PORT: Final = 445  # SESSION_SETUP answered by a 16 MiB frame, dripped
SOFT_404_PORT: Final = 80  # 200 for every path, the path echoed
FAKE_ORTHANC_PORT: Final = 8042  # /system names TINY_PDU_DICOM_PORT; /statistics lies
LISTING_PORT: Final = 8080  # nginx-like listing of 5,000 DICOM files, a 660 KB page
HUGE_LISTING_PORT: Final = 3000  # a listing page over the 1 MiB page cap
#: The listings' files (names carry no patient): the walk's entry cap cuts them.
LISTING_FILES: Final = 5000

# The "hostile3" host: answers that are malformed, not silent.
SMB_GARBLED_PORT: Final = 445  # SESSION_SETUP answered at once with garbage
LONG_HEADER_PORT: Final = 80  # a status line, then a 64 KiB header line
LONG_CN_TLS_PORT: Final = 443  # a certificate whose CN is 64 KiB


@dataclass(frozen=True)
class Host:
    """A machine of the practice network, i.e. one network namespace."""

    name: str
    ip: IPv4Address
    side: Literal["lan", "wan"]
    #: TCP ports a service listens on once the lab is up.
    tcp_ports: tuple[int, ...]
    #: Files under docker/ that configure this host's server(s), shared by
    #: the native and the container lab.
    config_files: tuple[str, ...] = ()
    role: str = ""


BOX: Final = Host(
    "box",
    BOX_LAN_IP,
    "lan",
    (IGD_HTTP_PORT,),
    (
        "box/miniupnpd.conf",
        "box/leases",
        "box/iptables.rules",
        "box/forwards",
        "box/radvd.conf",
        "box/ip6tables.rules",
    ),
    "internet box: NAT, UPnP IGD, port forwards",
)
PACS: Final = Host(
    "pacs",
    IPv4Address("198.18.0.10"),
    "lan",
    (PACS_DICOM_PORT, PACS_HTTP_PORT),
    ("pacs/orthanc.json", "pacs/nginx-relay.conf"),
    "Orthanc in its 2020 state: remote access, no authentication",
)
PACS_SECURE: Final = Host(
    "pacs-secure",
    IPv4Address("198.18.0.11"),
    "lan",
    (SECURE_DICOM_PORT, SECURE_HTTP_PORT),
    ("pacs-secure/orthanc.json",),
    "Orthanc configured well: the negative case",
)
NAS: Final = Host(
    "nas",
    IPv4Address("198.18.0.20"),
    "lan",
    SMB_PORTS,
    ("nas/smb.conf",),
    "Samba: a guest-readable imaging share and a private one",
)
#: The file server's guest share (a walk that stopped after
#: 4,948 files missed the DICOM files five levels down): office folders of
#: more entries than the walk's budget, then the images.
FILES_SHARE: Final = "partage"
FILES_OFFICE_FOLDERS: Final = 8
FILES_PER_OFFICE_FOLDER: Final = 700
FILES_DEEP_FOLDER: Final = "Archives/2019/Export/CNRY-0004/serie1"
FILES_DEEP_IMAGES: Final = 6
#: A share left out of the listing (browseable = no) on the file server.
FILES_HIDDEN_SHARE: Final = "dicom"
FILES_HIDDEN_IMAGES: Final = 2
#: Samba on the file server also listens here, a port no catalogue names
#: (as a box forwarding WAN 4445 to a NAS): told by an SMB negotiate.
FILES_ODD_SMB_PORT: Final = 4445
FILES: Final = Host(
    "files",
    IPv4Address("198.18.0.21"),
    "lan",
    (445, FILES_ODD_SMB_PORT),
    ("files/smb.conf",),
    "Samba: a large guest share, DICOM exports five levels down",
)
OLDNAS: Final = Host(
    "oldnas",
    IPv4Address("198.18.0.22"),
    "lan",
    (445,),
    ("oldnas/smb.conf",),
    "Samba speaking SMB1 only (an old NAS): a guest share of DICOM, one of office files",
)
#: An XP-era modality workstation (SMB1 only) sharing its DICOM folder to
#: named users: guests and the null session are refused.
OLDPC_SHARE: Final = "DICOM"
OLDPC: Final = Host(
    "oldpc",
    IPv4Address("198.18.0.95"),
    "lan",
    SMB_PORTS,
    ("oldpc/smb.conf",),
    "Samba speaking SMB1 only (an XP-era modality workstation): guests refused",
)
#: A file server's guest share as large as real ones (a walk that lists
#: reports until a cap of entries never reaches the images):
#: 100,000 files in 2,000 folders, the DICOM files in one folder among the
#: reports' 1,998, named plainly.
ARCHIVES_SHARE: Final = "cabinet"
ARCHIVES_REPORTS: Final = "Comptes-rendus"
ARCHIVES_REPORT_FOLDERS: Final = 1998
ARCHIVES_FILES_PER_REPORT_FOLDER: Final = 50
ARCHIVES_IMAGING_FOLDER: Final = "Comptes-rendus/Imagerie"
ARCHIVES_IMAGES: Final = 100
#: Made after this many report folders: neither first nor last in a
#: listing's order (tmpfs and ext4 list in creation or hash order).
ARCHIVES_IMAGING_AFTER: Final = 1200
#: A second guest share, of letter templates only: guest access, no images.
ARCHIVES_PLAIN_SHARE: Final = "modeles"
ARCHIVES_PLAIN_FILES: Final = 20
ARCHIVES: Final = Host(
    "archives",
    IPv4Address("198.18.0.90"),
    "lan",
    (445,),
    ("archives/smb.conf",),
    "Samba: a guest share of 100,000 files in 2,000 folders, the DICOM files in one",
)
#: The shared Documents folder of an imaging Mac (OsiriX, Horos): the
#: viewer's database (DATABASE.noindex/<number>/<n>.dcm) after a few hundred
#: folders of reports.
MAC_SHARE: Final = "Documents"
MAC_REPORT_FOLDERS: Final = 300
MAC_DATABASE: Final = "OsiriX Data/DATABASE.noindex"
MAC_DATABASE_FOLDERS: Final = (10000, 20000)
MAC_IMAGES_PER_FOLDER: Final = 30
MAC: Final = Host(
    "mac",
    IPv4Address("198.18.0.91"),
    "lan",
    (445,),
    ("mac/smb.conf",),
    "Samba on an imaging Mac: OsiriX Data in a guest share, reports before the database",
)
WEB: Final = Host(
    "web",
    IPv4Address("198.18.0.30"),
    "lan",
    (WEB_HTTP_PORT, WEB_DICT_PORT, WEB_PORTAL_PORT),
    ("web/nginx.conf", "web/portal.html"),
    "nginx: autoindex over DICOM files (80) and dictionaries (8000), a portal "
    "proxying Orthanc at /pacs/ (8080)",
)
MODALITY: Final = Host(
    "modality",
    IPv4Address("198.18.0.40"),
    "lan",
    (MODALITY_PORT, MODALITY_TLS_OPEN_PORT, MODALITY_TLS_PORT),
    ("modality/resolv.conf", MODALITY_TLS_PEM),
    "dcmtk storescp accepting anyone's images (clear, and TLS on 2761), TLS with "
    "a client certificate required on 2762; its DNS answers NXDOMAIN",
)
DNS: Final = Host(
    "dns",
    DNS_IP,
    "lan",
    (),
    (),
    "the practice's DNS: drops, refuses or answers NXDOMAIN, per client",
)
VIEWER: Final = Host(
    "viewer",
    IPv4Address("198.18.0.42"),
    "lan",
    (VIEWER_PORT,),
    ("viewer/resolv.conf",),
    "dcmtk storescp as Horos runs it: the DNS drops its look-ups (~15 s per association)",
)
ARCHIVE: Final = Host(
    "archive",
    IPv4Address("198.18.0.43"),
    "lan",
    (ARCHIVE_PORT,),
    ("archive/dcmqrscp.cfg", "archive/resolv.conf"),
    "dcmtk dcmqrscp checking the called AE: the DNS refuses its look-ups",
)
QRSCP: Final = Host(
    "qrscp",
    IPv4Address("198.18.0.44"),
    "lan",
    (QRSCP_PORT,),
    ("qrscp/qrscp.ini",),
    "pynetdicom's qrscp app: a STUDY-level C-FIND answered once per instance",
)
RIS: Final = Host(
    "ris",
    IPv4Address("198.18.0.110"),
    "lan",
    (RIS_PORT,),
    ("ris/resolv.conf",),
    "dcmtk wlmscpfs: a RIS's Modality Worklist of canary patients, open to any caller",
)
DICOMWEB: Final = Host(
    "dicomweb",
    IPv4Address("198.18.0.111"),
    "lan",
    (DICOMWEB_HTTP_PORT,),
    ("dicomweb/orthanc.json", "dicomweb/nginx.conf"),
    "Orthanc DICOMweb without authentication behind an nginx answering any origin "
    "with credentials (CORS): STOW-RS and CORS open",
)
FTP_PORT: Final = 21
#: vsftpd's passive data ports (pasv_min_port, pasv_max_port): the box
#: forwards them with 21, as a box's FTP forward must for passive mode.
FTP_PASSIVE_PORTS: Final = (30000, 30004)
FTP: Final = Host(
    "ftp",
    IPv4Address("198.18.0.70"),
    "lan",
    (FTP_PORT,),
    ("ftp/vsftpd.conf",),
    "vsftpd (Debian): an anonymous zone of DICOM exports and laboratory results",
)
FTPS_IMPLICIT_PORT: Final = 990
FTP_PRIVATE: Final = Host(
    "ftp-private",
    IPv4Address("198.18.0.71"),
    "lan",
    (FTP_PORT, FTPS_IMPLICIT_PORT),
    ("ftp-private/vsftpd.conf", "ftp-private/vsftpd-implicit.conf", "ftp-private/vsftpd.pem"),
    "vsftpd (Debian): named users only, TLS required (explicit on 21, implicit on 990)",
)
JUNK: Final = Host(
    "junk",
    IPv4Address("198.18.0.50"),
    "lan",
    (HOSTILE_DICOM_PORT, HOSTILE_HTTP_PORT, HOSTILE_SPEW_PORT, HOSTILE_TARPIT_PORT),
    (),
    "hostile ports (exposcan_lab/hostile.py)",
)
HOSTILE: Final = Host(
    "hostile",
    IPv4Address("198.18.0.51"),
    "lan",
    (HUGE_DICOM_PORT, TLS_STALL_PORT, SMB_STALL_PORT, DRIP_HTTP_PORT, RESET_PORT, BOMB_XML_PORT),
    (),
    "hostile services and an SSDP liar (exposcan_lab/hostile.py)",
)
HOSTILE2: Final = Host(
    "hostile2",
    IPv4Address("198.18.0.52"),
    "lan",
    (
        ABORT_DICOM_PORT,
        DRIP_DICOM_PORT,
        FLOOD_DICOM_PORT,
        TINY_PDU_DICOM_PORT,
        SMB_DRIP_PORT,
        SOFT_404_PORT,
        FAKE_ORTHANC_PORT,
        LISTING_PORT,
        HUGE_LISTING_PORT,
    ),
    (),
    "services that answer, and lie (exposcan_lab/hostile.py)",
)
HOSTILE3: Final = Host(
    "hostile3",
    IPv4Address("198.18.0.54"),
    "lan",
    (SMB_GARBLED_PORT, LONG_HEADER_PORT, LONG_CN_TLS_PORT),
    ("hostile3/long-cn.pem",),
    "malformed answers: SMB, HTTP headers, a certificate (exposcan_lab/hostile.py)",
)
# Two DICOM servers on one toolkit behind hand-set forwards: a Debian
# Orthanc and a dcmtk storescp share dcmtk's implementation class UID and
# version name.  The Orthanc checks its called AE (an AE title the probe
# guesses, so it is reached from both sides); the storescp accepts any,
# so from the internet it also accepts the AE title the PACS's web API
# discloses on the same public address: what it accepted proves nothing.
TWIN_ORTHANC_AET: Final = "ORTHANC"
TWIN_DICOM_PORT: Final = 104
TWIN_SCP_AET: Final = "TWINSCP"
TWIN_ORTHANC: Final = Host(
    "twin-orthanc",
    IPv4Address("198.18.0.80"),
    "lan",
    (TWIN_DICOM_PORT,),
    ("twin-orthanc/orthanc.json",),
    "Debian Orthanc checking its called AE (a default title), DICOM only, behind a "
    "hand-set forward",
)
TWIN_SCP: Final = Host(
    "twin-scp",
    IPv4Address("198.18.0.81"),
    "lan",
    (TWIN_DICOM_PORT,),
    (),
    "dcmtk storescp accepting any called AE, behind a hand-set forward",
)
#: The public ports of their forwards (set by hand: the IGD lists neither).
TWIN_ORTHANC_PUBLIC_PORT: Final = 50200
TWIN_SCP_PUBLIC_PORT: Final = 50201

# An honest listing next to a stalled port: real nginx serving an autoindex
# of 5,000 DICOM files (a ~700 KB page) on 80, and on the same host a tarpit
# (8080) and a header drip (3000) that spend the host's error budget.  The
# listing must be reported however busy the machine is.
DRIP_LISTING_HTTP_PORT: Final = 80
DRIP_LISTING_TARPIT_PORT: Final = 8080
DRIP_LISTING_DRIP_PORT: Final = 3000
DRIP_LISTING_FILES: Final = 5000
DRIP_LISTING: Final = Host(
    "drip-listing",
    IPv4Address("198.18.0.82"),
    "lan",
    (DRIP_LISTING_HTTP_PORT, DRIP_LISTING_TARPIT_PORT, DRIP_LISTING_DRIP_PORT),
    ("drip-listing/nginx.conf",),
    "nginx autoindex of 5,000 DICOM files beside a tarpit and a drip (exposcan_lab/hostile.py)",
)
#: The hostile host's description URL, as its SSDP answers give it.
HOSTILE_LOCATION: Final = f"http://{HOSTILE.ip}:{BOMB_XML_PORT}/igd.xml"
WS: Final = Host(
    "ws",
    IPv4Address("198.18.0.100"),
    "lan",
    (),
    (),
    "the practice workstation the scanner runs on",
)
INET: Final = Host(
    "inet",
    INET_IP,
    "wan",
    (),
    ("inet/hosts",),
    "a host on the internet, in front of the box",
)
#: The practice's public name (docker/inet/hosts, on the internet host only):
#: A = the box's public IPv4 address, AAAA = the PACS's global IPv6 address.
PUBLIC_NAME: Final = "pacs.cabinet-radio.test"

#: Every host, box first (it is the LAN gateway and the WAN router).
HOSTS: Final[tuple[Host, ...]] = (
    BOX,
    PACS,
    PACS_SECURE,
    NAS,
    FILES,
    OLDNAS,
    OLDPC,
    ARCHIVES,
    MAC,
    WEB,
    MODALITY,
    DNS,
    VIEWER,
    ARCHIVE,
    QRSCP,
    RIS,
    DICOMWEB,
    FTP,
    FTP_PRIVATE,
    JUNK,
    HOSTILE,
    HOSTILE2,
    HOSTILE3,
    TWIN_ORTHANC,
    TWIN_SCP,
    DRIP_LISTING,
    WS,
    INET,
)
HOSTS_BY_NAME: Final[dict[str, Host]] = {h.name: h for h in HOSTS}
#: Every namespace a lab creates, in creation order.
NAMESPACE_ROLES: Final[tuple[str, ...]] = (SWITCH, *(h.name for h in HOSTS))


# --- IPv6 -------------------------------------------------------------------------
#
# The box routes a global /64 (inside 2001:db8::/32, RFC 3849 documentation:
# never a real host) to the LAN and announces it with router advertisements
# (radvd), while IPv4 stays NATed: the practice of the French access
# providers. Inbound IPv6 is not filtered (the Freebox default until its
# firewall option is turned on); ``BOX_IP6TABLES_RULES`` is the negative case.
# Only the hosts of ``IPV6_HOSTS`` take an address from the announcements
# (SLAAC, RFC 4862); the others keep their link-local address only.

#: The practice's delegated prefix (a /56, as French providers give) and
#: the /64 of its LAN.
DELEGATED6_NET: Final = IPv6Network("2001:db8:ca::/56")
LAN6_NET: Final = IPv6Network("2001:db8:ca:1::/64")
WAN6_NET: Final = IPv6Network("2001:db8:ffff::/64")
BOX_LAN_IP6: Final = IPv6Address("2001:db8:ca:1::1")
BOX_WAN_IP6: Final = IPv6Address("2001:db8:ffff::1")
INET_IP6: Final = IPv6Address("2001:db8:ffff::50")
#: Hosts that autoconfigure a global address from the box's announcements.
IPV6_HOSTS: Final = ("pacs", "nas", "ws")
#: Orthanc 1.10.1 listens on IPv4 only: an nginx stream relay on the PACS
#: puts its two ports on IPv6 (docs/lab.md), as a reverse proxy would.
PACS_RELAY_PORTS: Final = (PACS_DICOM_PORT, PACS_HTTP_PORT)


def host_mac(host: Host) -> str:
    """A fixed, locally administered MAC per LAN host (02:e1:..:<last octet>):
    its SLAAC address is then known in advance, and IPv4 and IPv6 join on it."""
    return f"02:e1:00:00:00:{host.ip.packed[-1]:02x}"


def slaac_address(host: Host, prefix: IPv6Network = LAN6_NET) -> IPv6Address:
    """The address ``host`` forms from ``prefix`` (RFC 4291 App. A modified
    EUI-64: ff:fe in the middle, the universal/local bit inverted)."""
    mac = bytes.fromhex(host_mac(host).replace(":", ""))
    iid = bytes([mac[0] ^ 0x02]) + mac[1:3] + b"\xff\xfe" + mac[3:]
    return IPv6Address(int(prefix.network_address) | int.from_bytes(iid, "big"))


def global_ipv6(host: Host) -> IPv6Address | None:
    """The host's global IPv6 address once the lab is up, if it has one."""
    if host is BOX:
        return BOX_LAN_IP6
    if host is INET:
        return INET_IP6
    return slaac_address(host) if host.name in IPV6_HOSTS else None


def netns_name(lab: str, role: str) -> str:
    """The namespace of ``role`` (a host name or SWITCH) in lab ``lab``."""
    return f"{NETNS_PREFIX}{lab}-{role}"


# --- Port forwards of the box ---------------------------------------------------


@dataclass(frozen=True)
class PortForward:
    proto: Literal["TCP", "UDP"]
    wan_port: int
    lan_ip: IPv4Address
    lan_port: int
    description: str
    #: True: the IGD lists it (GetGenericPortMappingEntry). False: set "by
    #: hand" in the box's web UI, invisible to UPnP, like the CNIL cases.
    via_igd: bool
    #: True: the box also loops the public port back for LAN clients ("NAT
    #: loopback" or hairpin, RFC 4787 §6): from inside, the public address
    #: and port reach the service too. Many boxes do it on some ports only.
    loopback: bool = False


FORWARDS: Final[tuple[PortForward, ...]] = (
    PortForward("TCP", PACS_DICOM_PORT, PACS.ip, PACS_DICOM_PORT, "PACS DICOM", True),
    PortForward("TCP", PACS_HTTP_PORT, PACS.ip, PACS_HTTP_PORT, "PACS web", True, loopback=True),
    PortForward("TCP", 47000, WEB.ip, WEB_HTTP_PORT, "manual web", False),
    # SAN-2020-014: the doctor opened the box's ports by hand for his PACS;
    # an unusual public port UPnP never lists, only an outside view finds.
    PortForward(
        "TCP", MANUAL_PACS_PORT, PACS.ip, PACS_DICOM_PORT, "manual PACS DICOM", False, loopback=True
    ),
    # SAN-2022-009 (Dedalus Biologie): a public zone without authentication
    # from the internet. The passive ports go with it (FTP_PASSIVE_PORTS).
    PortForward("TCP", FTP_PORT, FTP.ip, FTP_PORT, "manual FTP", False),
    # Two DICOM servers of one toolkit, each behind a forward set by hand.
    PortForward(
        "TCP", TWIN_ORTHANC_PUBLIC_PORT, TWIN_ORTHANC.ip, TWIN_DICOM_PORT, "manual Orthanc", False
    ),
    PortForward(
        "TCP", TWIN_SCP_PUBLIC_PORT, TWIN_SCP.ip, TWIN_DICOM_PORT, "manual storescp", False
    ),
)
IGD_FORWARDS: Final = tuple(f for f in FORWARDS if f.via_igd)
MANUAL_FORWARDS: Final = tuple(f for f in FORWARDS if not f.via_igd)
LOOPBACK_FORWARDS: Final = tuple(f for f in FORWARDS if f.loopback)

# --- Canary patients --------------------------------------------------------------


@dataclass(frozen=True)
class CanaryPatient:
    name: str  # DICOM PN, family^given
    patient_id: str
    birth_date: str  # DICOM DA


CANARY_PATIENTS: Final[tuple[CanaryPatient, ...]] = (
    CanaryPatient("CANARY^ALICE", "CNRY-0001", "19010101"),
    CanaryPatient("CANARY^BRUNO", "CNRY-0002", "19010101"),
    CanaryPatient("CANARY^CHLOE", "CNRY-0003", "19010101"),
    CanaryPatient("CANARY^DAVID", "CNRY-0004", "19010101"),
    CanaryPatient("CANARY^EMMA", "CNRY-0005", "19010101"),
)

#: Root of every UID in canary files. 2.25 is the UUID-derived arc (PS3.5
#: §B.2); the digits are fixed so that tests can look for them in output.
CANARY_UID_ROOT: Final = "2.25.271828182845904523536028747135"


@dataclass(frozen=True)
class CanaryStudy:
    """One study of one canary patient: ``instances`` CT images, one series."""

    site: int  # keeps UIDs distinct between the places canaries live
    study: int
    patient: int  # index into CANARY_PATIENTS
    instances: int


#: Studies loaded into the open PACS at lab-up (3 patients, 4 studies).
PACS_STUDIES: Final[tuple[CanaryStudy, ...]] = (
    CanaryStudy(1, 1, 0, 2),
    CanaryStudy(1, 2, 0, 1),
    CanaryStudy(1, 3, 1, 2),
    CanaryStudy(1, 4, 2, 1),
)
#: Studies loaded into the secure PACS (with its credentials, locally).
SECURE_STUDIES: Final[tuple[CanaryStudy, ...]] = (CanaryStudy(2, 1, 3, 2),)

#: Stored into the qrscp host at lab-up (C-STORE from its own loopback):
#: 3 studies, 6 instances, so 6 responses to a STUDY-level C-FIND.
QRSCP_STUDIES: Final[tuple[CanaryStudy, ...]] = (
    CanaryStudy(5, 1, 0, 3),
    CanaryStudy(5, 2, 1, 2),
    CanaryStudy(5, 3, 2, 1),
)
EXPECTED_QRSCP_STUDIES: Final = len(QRSCP_STUDIES)
EXPECTED_QRSCP_INSTANCES: Final = sum(s.instances for s in QRSCP_STUDIES)

EXPECTED_PACS_PATIENTS: Final = len({s.patient for s in PACS_STUDIES})
EXPECTED_PACS_STUDIES: Final = len(PACS_STUDIES)
EXPECTED_PACS_INSTANCES: Final = sum(s.instances for s in PACS_STUDIES)
EXPECTED_SECURE_STUDIES: Final = len(SECURE_STUDIES)
EXPECTED_SECURE_INSTANCES: Final = sum(s.instances for s in SECURE_STUDIES)


@dataclass(frozen=True)
class CanaryFile:
    """A file placed in a share or web folder: DICOM (patient set) or not."""

    path: str  # relative to the share / web root, "/" separated
    patient: int | None  # None: a non-imaging file
    #: What a file of a patient holds: a DICOM image, or laboratory results
    #: (HPRIM Santé, HL7 v2 ORU) that are health data but no image.
    kind: Literal["dicom", "hprim", "hl7v2"] = "dicom"

    @property
    def imaging(self) -> bool:
        return self.patient is not None and self.kind == "dicom"

    @property
    def health_data(self) -> bool:
        return self.patient is not None and self.kind != "dicom"


#: The guest-readable share: .dcm and extension-less DICOM files 2-3 levels
#: deep, a flat DICOMDIR-less CD export, and a few non-imaging files. File
#: and folder names carry canary IDs on purpose: a report must not list them.
NAS_IMAGING_FILES: Final[tuple[CanaryFile, ...]] = (
    CanaryFile("Examens/2019/CNRY-0001/CT0001.dcm", 0),
    CanaryFile("Examens/2019/CNRY-0001/CT0002.dcm", 0),
    CanaryFile("Examens/2020/CNRY-0002/serie1/IM000001", 1),
    CanaryFile("Examens/2020/CNRY-0002/serie1/IM000002", 1),
    CanaryFile("Examens/2021/CANARY_CHLOE/00000001", 2),
    CanaryFile("Export_CD/IM000001", 3),
    CanaryFile("Export_CD/IM000002", 3),
    CanaryFile("Export_CD/IM000003.dcm", 4),
    CanaryFile("LISEZMOI.txt", None),
    CanaryFile("Examens/planning-2020.csv", None),
    # Laboratory results a practice keeps beside the images.
    CanaryFile("Examens/2020/CNRY-0002/resultats.hpr", 1, "hprim"),
    CanaryFile("Resultats_labo/CNRY-0004/00000042", 3, "hl7v2"),
)
#: What the private share holds (guest must not see it).
NAS_PRIVATE_FILES: Final[tuple[CanaryFile, ...]] = (CanaryFile("factures-2020.csv", None),)

#: The nginx autoindex root.
WEB_FILES: Final[tuple[CanaryFile, ...]] = (
    CanaryFile("CNRY-0003_CT_0001.dcm", 2),
    CanaryFile("IM000002", 2),
    CanaryFile("archives/IM000003", 4),
    CanaryFile("archives/2018/IM000004", 4),
    CanaryFile("LISEZMOI.txt", None),
    # Laboratory results in the same web folder.
    CanaryFile("archives/CNRY-0005_resultats.hl7", 4, "hl7v2"),
    CanaryFile("archives/2018/000777", 2, "hprim"),
    # Spelling dictionaries of the secretary's word processor: ".dic", no DICOM.
    CanaryFile(f"{WEB_DICT_FOLDER}/fr_FR.dic", None),
    CanaryFile(f"{WEB_DICT_FOLDER}/medical_fr.dic", None),
    CanaryFile(f"{WEB_DICT_FOLDER}/fr_FR.aff", None),
)
EXPECTED_WEB_DICT_FILES: Final = sum(1 for f in WEB_FILES if f.path.startswith(WEB_DICT_FOLDER))

#: The old NAS (SMB1 only): a guest share of exported images, .dcm and
#: extension-less (told by their "DICM" magic, read through SMB1), and a
#: guest share of office files, one folder of more entries than one SMB1
#: FIND request returns (TRANS2_FIND_NEXT2 follows), and no image.
OLDNAS_IMAGING_SHARE: Final = "images"
OLDNAS_IMAGING_FILES: Final[tuple[CanaryFile, ...]] = (
    CanaryFile("Examens/2019/CNRY-0001/CT0001.dcm", 0),
    CanaryFile("Examens/2019/CNRY-0001/CT0002.dcm", 0),
    CanaryFile("Export_CD/IM000001", 3),
    CanaryFile("Export_CD/IM000002", 3),
    CanaryFile("LISEZMOI.txt", None),
)
EXPECTED_OLDNAS_DICOM_FILES: Final = sum(1 for f in OLDNAS_IMAGING_FILES if f.imaging)
OLDNAS_OFFICE_SHARE: Final = "bureau"
OLDNAS_OFFICE_FOLDER: Final = "Courrier"
OLDNAS_OFFICE_FILES: Final = 600
#: What the XP-era workstation's DICOM share holds (guests must not see it).
OLDPC_FILES: Final[tuple[CanaryFile, ...]] = (
    CanaryFile("CNRY-0002/IM000001", 1),
    CanaryFile("CNRY-0002/IM000002", 1),
)
EXPECTED_NAS_DICOM_FILES: Final = sum(1 for f in NAS_IMAGING_FILES if f.imaging)
EXPECTED_NAS_HEALTH_FILES: Final = sum(1 for f in NAS_IMAGING_FILES if f.health_data)
EXPECTED_NAS_FILES: Final = len(NAS_IMAGING_FILES)
EXPECTED_WEB_DICOM_FILES: Final = sum(1 for f in WEB_FILES if f.imaging)
EXPECTED_WEB_HEALTH_FILES: Final = sum(1 for f in WEB_FILES if f.health_data)
EXPECTED_WEB_FILES: Final = len(WEB_FILES)
#: Entries of the autoindex page at "/" (files and first-level folders).
EXPECTED_WEB_ROOT_ENTRIES: Final = len({f.path.split("/")[0] for f in WEB_FILES})

#: The anonymous FTP zone: a modality's and a PACS's exports, and results a
#: laboratory dropped there (one batch left over from a migration, as in
#: SAN-2022-009). Names carry canary IDs: a report must not list them.
FTP_FILES: Final[tuple[CanaryFile, ...]] = (
    CanaryFile("exports/CNRY-0001/IM000001", 0),
    CanaryFile("exports/CNRY-0001/IM000002.dcm", 0),
    CanaryFile("exports/CD_CNRY-0002/00000001", 1),
    CanaryFile("resultats/2021/CNRY-0001_GLYC.hpr", 0, "hprim"),
    CanaryFile("resultats/2021/CNRY-0003.hl7", 2, "hl7v2"),
    CanaryFile("resultats/migration-2020/000123", 3, "hprim"),
    CanaryFile("LISEZMOI.txt", None),
)
#: The named-user zone (no anonymous login: the scanner never sees it).
FTP_PRIVATE_FILES: Final[tuple[CanaryFile, ...]] = (
    CanaryFile("labdoc/CNRY-0004/IM000001", 3),
    CanaryFile("labdoc/resultats/CNRY-0004.hpr", 3, "hprim"),
)
EXPECTED_FTP_IMAGING_FILES: Final = sum(1 for f in FTP_FILES if f.imaging)
EXPECTED_FTP_HEALTH_FILES: Final = sum(1 for f in FTP_FILES if f.health_data)


#: The worklist entries' own values (exposcan_lab/canary.py worklist_dataset):
#: physicians, step and procedure IDs, accession numbers, descriptions.
CANARY_WORKLIST_STRINGS: Final = (
    "CANARY^DOCTEUR",
    "CANARY^PRESCRIPTEUR",
    "CNRYSPS",
    "CNRYRP",
    "CNRYACC8",
    "CANARY scanner",
)


def _canary_strings() -> tuple[str, ...]:
    out: list[str] = []
    for p in CANARY_PATIENTS:
        out += [p.name, p.patient_id, p.birth_date, *p.name.split("^")]
    # File and folder names found inside shares and listings.
    for f in (*NAS_IMAGING_FILES, *WEB_FILES, *FTP_FILES, *FTP_PRIVATE_FILES):
        if f.patient is not None:
            out += [part for part in f.path.split("/") if "CNRY" in part or "CANARY" in part]
    # What the RIS's worklist files hold besides the patients (canary.py).
    out += list(CANARY_WORKLIST_STRINGS)
    out.append(CANARY_UID_ROOT)
    return tuple(dict.fromkeys(out))  # de-duplicated, order kept


#: Strings that must never appear in scanner output (stdout, logs, reports).
CANARY_STRINGS: Final[tuple[str, ...]] = _canary_strings()
#: Credentials of the lab: never to be printed by a scanner either.
SECRET_STRINGS: Final[tuple[str, ...]] = (SECURE_PASSWORD,)

# --- Runtime ----------------------------------------------------------------------

RUNTIME_ROOT: Final = "/run/exposcan-lab"
#: The one token substituted in docker/ config files for the native lab: in a
#: container it is a real folder; natively it becomes <runtime dir>/<host>.
CONFIG_ROOT_TOKEN: Final = "/srv/lab"  # noqa: S105 (a path, not a secret)

STORESCP_ARGV: Final = (
    "/usr/bin/storescp",
    # No reverse DNS of each caller: the extra exposure's host has no
    # resolver of the lab's (start_extra_exposure).
    "--disable-host-lookup",
    "--aetitle",
    MODALITY_AET,
    "--output-directory",
    f"{CONFIG_ROOT_TOKEN}/incoming",
    str(MODALITY_PORT),
)
#: The modality and the viewer run storescp as installed: the caller's name
#: is looked up (their resolv.conf says which answer they get).
MODALITY_ARGV: Final = tuple(a for a in STORESCP_ARGV if a != "--disable-host-lookup")


def _storescp_tls(port: int, peer: str) -> tuple[str, ...]:
    """storescp over TLS as dcmtk documents it: +tls KEY CERT (one PEM holds
    both), its default BCP 195 profile, the caller's name looked up."""
    pem = f"{CONFIG_ROOT_TOKEN}/dicom-tls.pem"
    argv = MODALITY_ARGV[:-1]
    return (*argv, "+tls", pem, pem, peer, str(port))


MODALITY_TLS_ARGV: Final = _storescp_tls(MODALITY_TLS_PORT, "--require-peer-cert")
MODALITY_TLS_OPEN_ARGV: Final = _storescp_tls(MODALITY_TLS_OPEN_PORT, "--ignore-peer-cert")
VIEWER_ARGV: Final = (
    "/usr/bin/storescp",
    "--aetitle",
    VIEWER_AET,
    "--output-directory",
    f"{CONFIG_ROOT_TOKEN}/incoming",
    str(VIEWER_PORT),
)
#: After the interpreter (the native lab's, or python3 in a container).
QRSCP_ARGV: Final = ("-m", "pynetdicom", "qrscp", "--config", f"{CONFIG_ROOT_TOKEN}/qrscp.ini")
#: wlmscpfs as dcmtk installs it (host look-up on), its worklist folder.
RIS_ARGV: Final = (
    "/usr/bin/wlmscpfs",
    "--data-files-path",
    f"{CONFIG_ROOT_TOKEN}/worklist",
    str(RIS_PORT),
)
ARCHIVE_ARGV: Final = ("/usr/bin/dcmqrscp", "--config", f"{CONFIG_ROOT_TOKEN}/dcmqrscp.cfg")
#: resolver.py's arguments on the DNS host: who gets which answer.
RESOLVER_ARGV: Final = (
    "--listen",
    str(DNS_IP),
    "--drop",
    str(VIEWER.ip),
    "--refuse",
    str(ARCHIVE.ip),
    "--nxdomain",
    str(MODALITY.ip),
)

#: hostile.py's arguments on the hostile host (the native and the container
#: lab both start it with these): the junk host's four services off.
HOSTILE_ARGV: Final = (
    "--tarpit",
    "0",
    "--spew",
    "0",
    "--dicom",
    "0",
    "--http",
    "0",
    "--huge-dicom",
    str(HUGE_DICOM_PORT),
    "--tls-stall",
    str(TLS_STALL_PORT),
    "--smb-stall",
    str(SMB_STALL_PORT),
    "--drip",
    str(DRIP_HTTP_PORT),
    "--reset",
    str(RESET_PORT),
    "--ssdp",
    f"{HOSTILE.ip}:{BOMB_XML_PORT}",
)

#: The junk host's four services off, on the hosts below.
_JUNK_OFF: Final = ("--tarpit", "0", "--spew", "0", "--dicom", "0", "--http", "0")

#: hostile.py's arguments on hostile2 (native and container lab alike).
HOSTILE2_ARGV: Final = (
    *_JUNK_OFF,
    "--dicom-abort",
    str(ABORT_DICOM_PORT),
    "--dicom-drip",
    str(DRIP_DICOM_PORT),
    "--dicom-flood",
    str(FLOOD_DICOM_PORT),
    "--dicom-tiny-pdu",
    str(TINY_PDU_DICOM_PORT),
    "--smb-drip",
    str(SMB_DRIP_PORT),
    "--soft-404",
    str(SOFT_404_PORT),
    "--fake-orthanc",
    str(FAKE_ORTHANC_PORT),
    "--listing",
    str(LISTING_PORT),
    "--huge-listing",
    str(HUGE_LISTING_PORT),
)

#: The twin storescp: any called AE accepted (storescp checks none), no
#: look-up of the caller (its host has no resolver of the lab's).
TWIN_SCP_ARGV: Final = (
    "/usr/bin/storescp",
    "--disable-host-lookup",
    "--aetitle",
    TWIN_SCP_AET,
    "--output-directory",
    f"{CONFIG_ROOT_TOKEN}/incoming",
    str(TWIN_DICOM_PORT),
)
#: hostile.py's arguments beside the honest listing: a tarpit and a drip.
DRIP_LISTING_ARGV: Final = (
    "--tarpit",
    str(DRIP_LISTING_TARPIT_PORT),
    "--spew",
    "0",
    "--dicom",
    "0",
    "--http",
    "0",
    "--drip",
    str(DRIP_LISTING_DRIP_PORT),
)

#: hostile.py's arguments on hostile3; the certificate is a config file.
HOSTILE3_ARGV: Final = (
    *_JUNK_OFF,
    "--smb-garbled",
    str(SMB_GARBLED_PORT),
    "--long-header",
    str(LONG_HEADER_PORT),
    "--tls-cert",
    str(LONG_CN_TLS_PORT),
    "--cert",
    f"{CONFIG_ROOT_TOKEN}/long-cn.pem",
)
