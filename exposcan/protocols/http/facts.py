"""The HTTP probe's facts (what the catalogue's ``http.*`` rules match)."""

from __future__ import annotations

from exposcan.facts import FactModel, TlsFields, fact_kind
from exposcan.models import Safety


class _Product(FactModel):
    product: str | None = None
    version: str | None = None


@fact_kind("http.tls")
class HttpTls(TlsFields):
    """The web server's TLS handshake and certificate."""


@fact_kind("http.fingerprint")
class HttpFingerprint(_Product):
    """A catalogue fingerprint matched this web service."""

    category: str
    endpoint: str | None = None
    auth_required: bool | None = False
    login: bool | None = False
    tls: bool | None = False
    generic: bool | None = False


@fact_kind("http.pacs-data")
class HttpPacsData(_Product):
    """Imaging data readable without credentials, as counts.  The count
    names are the fingerprints' (``proofs.counts.json`` keys) and QIDO-RS's
    (``<level>_readable``, ``qido_<level>``): a fingerprint naming another
    count fails at load."""

    readable: bool
    endpoint: str | None = None
    tls: bool | None = False
    patients: int | None = None
    studies: int | None = None
    series: int | None = None
    instances: int | None = None
    studies_readable: bool | None = None
    series_readable: bool | None = None
    instances_readable: bool | None = None
    qido_studies: int | None = None
    qido_series: int | None = None
    qido_instances: int | None = None


@fact_kind("http.listing")
class HttpListing(FactModel):
    """A directory listing walked: counts and extensions, never a name."""

    server: str
    tls: bool | None = False
    imaging_files: int | None = 0
    folders_walked: int | None = 0
    files_seen: int | None = 0
    files_sampled: int | None = 0
    with_magic: int | None = 0
    without_extension: int | None = 0
    dicomdir: int | None = 0
    extensions: list[str] | None = []
    #: Files with an imaging extension whose first bytes hold no DICM magic
    #: (listing.py: the extension is refuted by content).
    not_imaging_by_content: int | None = 0
    extensions_refuted: list[str] | None = []
    health_data_files: int | None = 0
    health_data_kinds: list[str] | None = []
    cut_short: bool | None = False
    cut_reasons: list[str] | None = []


@fact_kind("http.default-credentials")
class HttpDefaultCredentials(_Product):
    """A documented default account opened the product (--intrusive only);
    the account itself is never recorded."""

    safety = Safety.INTRUSIVE
    endpoint: str


@fact_kind("http.cleartext")
class HttpCleartext(_Product):
    """Something of an imaging product travels in clear text."""

    what: str


@fact_kind("http.stow")
class HttpStow(_Product):
    """STOW-RS answered an empty POST (dicomweb.py): ``open`` when it took
    it without credentials; nothing can have been stored."""

    endpoint: str
    status: int
    open: bool
    tls: bool | None = False


@fact_kind("http.cors")
class HttpCors(_Product):
    """The DICOMweb search allowed a foreign origin (CORS): ``allow_origin``
    is "echoed" (our origin) or "*", never the peer's words."""

    endpoint: str
    origin_sent: str
    allow_origin: str
    allow_credentials: bool
    status: int | None = None
    tls: bool | None = False


@fact_kind("http.wado-uri")
class HttpWadoUri(_Product):
    """WADO-URI answered a request naming no object (dicomweb.py): ``open``
    when it did so without credentials."""

    endpoint: str
    status: int
    open: bool
    tls: bool | None = False
