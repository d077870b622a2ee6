"""Synthetic DICOM Part 10 files of canary patients (never real data).

Small CT images with valid file meta, so that Orthanc, dcmtk and any DICOM
parser accept them, and with names, IDs and UIDs listed in
``topology.CANARY_STRINGS`` so that tests can prove a scan leaked none.

Runs standalone too (``python canary.py OUTDIR``): the container lab uses it
to fill its volumes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian

if __package__:
    from . import topology as t
else:  # run as a plain script (container lab): topology sits beside us
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import topology as t  # type: ignore[no-redef,import-not-found]

_ROWS = _COLS = 8
#: CT Image Storage (PS3.4 Annex B). A literal: Debian 12's pydicom 2.3 (the
#: container lab) predates the named SOP class constants.
CT_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.2")


def _uid(*parts: int) -> str:
    return ".".join((t.CANARY_UID_ROOT, *(str(p) for p in parts)))


def canary_dataset(patient: int, site: int, study: int, instance: int) -> Dataset:
    """One CT image of ``CANARY_PATIENTS[patient]``; UIDs derive from the
    (site, study, instance) triple so that every file is distinct."""
    p = t.CANARY_PATIENTS[patient]
    study_uid = _uid(site, study)
    series_uid = _uid(site, study, 1)
    sop_uid = _uid(site, study, 1, instance)

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID

    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CT_IMAGE_STORAGE
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = _uid(site, study, 9)
    ds.PatientName = p.name
    ds.PatientID = p.patient_id
    ds.PatientBirthDate = p.birth_date
    ds.PatientSex = "O"
    ds.StudyDate = f"2020{study % 12 + 1:02d}{instance % 28 + 1:02d}"
    ds.StudyTime = "101500"
    ds.StudyID = str(study)
    ds.AccessionNumber = f"CNRYACC{site}{study:03d}"
    ds.StudyDescription = "CANARY synthetic study"
    ds.Modality = "CT"
    ds.SeriesNumber = 1
    ds.InstanceNumber = instance
    ds.ReferringPhysicianName = ""
    ds.Manufacturer = "exposcan-lab"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = _ROWS
    ds.Columns = _COLS
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.PixelData = bytes((i * 7 + instance) % 256 for i in range(_ROWS * _COLS * 2))
    return ds


#: Modality Worklist Information Model - FIND (PS3.4 Annex K): the SOP class a
#: worklist file's meta names, as dcmtk's own sample files do.
WORKLIST_FIND = UID("1.2.840.10008.5.1.4.31")


def worklist_dataset(step: int) -> Dataset:
    """One scheduled procedure step of a canary patient, as a RIS writes it
    for dcmtk's wlmscpfs (the attributes of dcmtk's sample wklist*.dump,
    which its --enable-file-reject default requires)."""
    p = t.CANARY_PATIENTS[step % len(t.CANARY_PATIENTS)]
    sps = Dataset()
    sps.Modality = "CT"
    sps.ScheduledStationAETitle = "CTSCANNER1"
    sps.ScheduledProcedureStepStartDate = "20261208"
    sps.ScheduledProcedureStepStartTime = f"{8 + step:02d}3000"
    sps.ScheduledPerformingPhysicianName = "CANARY^DOCTEUR"
    sps.ScheduledProcedureStepDescription = "CANARY scanner thoracique"
    sps.ScheduledProcedureStepID = f"CNRYSPS{step:03d}"
    sps.ScheduledStationName = "SCANNER1"
    sps.ScheduledProcedureStepLocation = "SALLE1"
    sps.PreMedication = ""
    sps.CommentsOnTheScheduledProcedureStep = ""

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = WORKLIST_FIND
    meta.MediaStorageSOPInstanceUID = UID(_uid(8, step))
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.AccessionNumber = f"CNRYACC8{step:03d}"
    ds.PatientName = p.name
    ds.PatientID = p.patient_id
    ds.PatientBirthDate = p.birth_date
    ds.PatientSex = "O"
    ds.StudyInstanceUID = _uid(8, step, 1)
    ds.RequestingPhysician = "CANARY^PRESCRIPTEUR"
    ds.RequestedProcedureDescription = "CANARY scanner"
    ds.ScheduledProcedureStepSequence = [sps]
    ds.RequestedProcedureID = f"CNRYRP{step:03d}"
    ds.RequestedProcedurePriority = "ROUTINE"
    # Type 2 sequences of the Modality Worklist (PS3.4 Table K.6-1), empty.
    ds.ReferencedStudySequence = []
    ds.ReferencedPatientSequence = []
    return ds


def write_worklist(out: Path) -> list[Path]:
    """The RIS's worklist for wlmscpfs: ``out/<AE title>/*.wl`` and the
    ``lockfile`` it wants beside them."""
    folder = out / t.RIS_AET
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lockfile").write_text("")
    files = []
    for step in range(t.RIS_SCHEDULED_STEPS):
        path = folder / f"step{step:03d}.wl"
        write_dataset(worklist_dataset(step), path)
        files.append(path)
    return files


def write_dataset(ds: Dataset, path: Path) -> None:
    """Write ``ds`` as a Part 10 file (preamble, "DICM", file meta)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # pydicom 3 renamed write_like_original; the old keyword warns there, and
    # the tests turn warnings into errors.
    if int(pydicom.__version__.split(".")[0]) >= 3:
        ds.save_as(path, enforce_file_format=True)
    else:
        ds.save_as(path, write_like_original=False)


def write_studies(studies: tuple[t.CanaryStudy, ...], out: Path) -> list[Path]:
    """Write every instance of ``studies`` under ``out``; return the files."""
    files: list[Path] = []
    for s in studies:
        for i in range(1, s.instances + 1):
            path = out / f"s{s.site}-{s.study}-{i}.dcm"
            write_dataset(canary_dataset(s.patient, s.site, s.study, i), path)
            files.append(path)
    return files


def lab_result(patient: int, kind: str, n: int) -> bytes:
    """A synthetic laboratory result of a canary patient: HPRIM Santé (H|, P|,
    OBR|, OBX| records, CR LF) or an HL7 v2.5 ORU^R01 message (CR segments).
    The scanner must recognise it by its first bytes and never quote it."""
    p = t.CANARY_PATIENTS[patient]
    family, given = p.name.split("^")
    if kind == "hprim":
        records = [
            f"H|^~\\&|CNRY{n:04d}||LABO CANARY|||||||P|H2.2^C|20210315120000",
            f"P|1||{p.patient_id}||{family}^{given}||{p.birth_date}|U",
            "OBR|1|||GLY^Glycemie a jeun",
            "OBX|1|NM|GLY^Glycemie a jeun||5.2|mmol/l|||N",
            "L|1|||",
        ]
        return ("\r\n".join(records) + "\r\n").encode("ascii")
    segments = [
        f"MSH|^~\\&|LABO|CANARY|CABINET|CANARY|20210315120000||ORU^R01|CNRY{n:04d}|P|2.5",
        f"PID|1||{p.patient_id}^^^CANARY||{family}^{given}||{p.birth_date}|U",
        "OBR|1|||GLU^Glucose",
        "OBX|1|NM|GLU^Glucose||5.2|mmol/L|||N|||F",
    ]
    return ("\r".join(segments) + "\r").encode("ascii")


def write_tree(files: tuple[t.CanaryFile, ...], root: Path, site: int) -> None:
    """Lay out a share or web folder as ``files`` describes."""
    for n, f in enumerate(files, start=1):
        path = root.joinpath(*f.path.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        if f.patient is None and path.suffix == ".dic":
            # A hunspell dictionary: a word count, then words with flags.
            words = ["abaisser/12", "abdomen/1", "radiographie/1", "scanner/1"] * 40
            path.write_text(f"{len(words)}\n" + "\n".join(words) + "\n")
        elif f.patient is None:
            # Office clutter: text that is no DICOM (no "DICM" at byte 128).
            path.write_text("Document de travail du cabinet - aucune image.\n" * 4)
        elif f.kind != "dicom":
            path.write_bytes(lab_result(f.patient, f.kind, n))
        else:
            write_dataset(canary_dataset(f.patient, site, 100 + f.patient, n), path)


def write_deep_share(root: Path) -> None:
    """The file server's share: office folders, then the images deep down."""
    for i in range(t.FILES_OFFICE_FOLDERS):
        folder = root / f"Secretariat_{i + 1:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for j in range(t.FILES_PER_OFFICE_FOLDER):
            (folder / f"courrier_{j:04d}.odt").write_text("Courrier du cabinet.\n")
    hidden = root.parent / t.FILES_HIDDEN_SHARE
    hidden.mkdir(parents=True, exist_ok=True)
    for n in range(1, t.FILES_HIDDEN_IMAGES + 1):
        write_dataset(canary_dataset(4, 6, 2, n), hidden / f"IM{n:06d}")
    deep = root.joinpath(*t.FILES_DEEP_FOLDER.split("/"))
    deep.mkdir(parents=True, exist_ok=True)
    for n in range(1, t.FILES_DEEP_IMAGES + 1):
        write_dataset(canary_dataset(3, 6, 1, n), deep / f"IM{n:06d}")


def write_oldnas_shares(root: Path) -> None:
    """The old NAS's two guest shares (``root`` holds both)."""
    write_tree(t.OLDNAS_IMAGING_FILES, root / t.OLDNAS_IMAGING_SHARE, site=7)
    office = root / t.OLDNAS_OFFICE_SHARE / t.OLDNAS_OFFICE_FOLDER
    office.mkdir(parents=True, exist_ok=True)
    for j in range(t.OLDNAS_OFFICE_FILES):
        (office / f"lettre_{j:04d}.odt").write_text("Courrier du cabinet.\n")


#: Reports are sparse files of this size: a listing shows real sizes, and
#: 99,900 of them cost the lab inodes, not disk.
REPORT_SIZE = 48 * 1024


def _sparse_files(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.ftruncate(fd, REPORT_SIZE)
        finally:
            os.close(fd)


def _patient_folder(n: int) -> str:
    """A folder named as practices name them: after the patient (canaries)."""
    p = t.CANARY_PATIENTS[n % len(t.CANARY_PATIENTS)]
    return f"{p.patient_id} {n:04d}"


def write_archives_share(shares: Path) -> None:
    """Under ``shares``: the 100,000 files in 2,000 folders, 1,998 of reports
    and the images in one more, named plainly; and a share of templates
    (topology.ARCHIVES_*)."""
    root = shares / t.ARCHIVES_SHARE
    reports = root / t.ARCHIVES_REPORTS
    names = [f"CR-{j:03d}.pdf" for j in range(t.ARCHIVES_FILES_PER_REPORT_FOLDER)]
    for i in range(t.ARCHIVES_REPORT_FOLDERS):
        if i == t.ARCHIVES_IMAGING_AFTER:
            images = root.joinpath(*t.ARCHIVES_IMAGING_FOLDER.split("/"))
            for n in range(1, t.ARCHIVES_IMAGES + 1):
                write_dataset(canary_dataset(n % 3, 8, 1, n), images / f"IM{n:06d}")
        _sparse_files(reports / _patient_folder(i), names)
    plain = shares / t.ARCHIVES_PLAIN_SHARE
    _sparse_files(plain, [f"modele-{j:02d}.odt" for j in range(t.ARCHIVES_PLAIN_FILES)])


def write_mac_share(shares: Path) -> None:
    """Under ``shares``: an imaging Mac's Documents, letters, then OsiriX
    Data with its reports before its database (topology.MAC_*)."""
    root = shares / t.MAC_SHARE
    _sparse_files(root / "Courriers", [f"lettre-{j:03d}.docx" for j in range(40)])
    data = root / "OsiriX Data"
    for i in range(t.MAC_REPORT_FOLDERS):
        _sparse_files(data / "REPORTS" / _patient_folder(i), ["report.pdf", "report.rtf"])
    (data / "Database.sql").write_bytes(b"SQLite format 3\x00" + bytes(84))
    for d in ("INCOMING.noindex", "TEMP.noindex", "DECOMPRESSION.noindex"):
        (data / d).mkdir(parents=True, exist_ok=True)
    n = 0
    for folder in t.MAC_DATABASE_FOLDERS:
        for _ in range(t.MAC_IMAGES_PER_FOLDER):
            n += 1
            path = root.joinpath(*t.MAC_DATABASE.split("/"), str(folder), f"{n}.dcm")
            write_dataset(canary_dataset(n % 2, 9, 1, n), path)


def write_export_listing(root: Path, count: int) -> None:
    """A modality export left in a web folder: ``count`` files whose first
    bytes are the Part 10 preamble and magic (PS3.10 §7.1), and nothing
    else; names carry no patient (long generated names, as exports use)."""
    root.mkdir(parents=True, exist_ok=True)
    part10 = b"\0" * 128 + b"DICM" + b"\0" * 64
    for i in range(count):
        (root / f"IM{i:06d}_{'0' * 30}.dcm").write_bytes(part10)


def write_all(out: Path) -> None:
    """Everything the lab needs, under ``out`` (pacs/, pacs-secure/, nas/, web/, ris/...)."""
    write_studies(t.PACS_STUDIES, out / "pacs")
    write_studies(t.SECURE_STUDIES, out / "pacs-secure")
    write_studies(t.QRSCP_STUDIES, out / "qrscp")
    write_worklist(out / "ris")
    write_tree(t.NAS_IMAGING_FILES, out / "nas" / t.NAS_GUEST_SHARE, site=3)
    write_tree(t.NAS_PRIVATE_FILES, out / "nas" / t.NAS_PRIVATE_SHARE, site=3)
    write_tree(t.WEB_FILES, out / "web", site=4)
    write_deep_share(out / "files")
    write_oldnas_shares(out / "oldnas")
    write_tree(t.OLDPC_FILES, out / "oldpc" / t.OLDPC_SHARE, site=8)
    write_archives_share(out / "archives")
    write_mac_share(out / "mac")
    write_tree(t.FTP_FILES, out / "ftp", site=5)
    write_tree(t.FTP_PRIVATE_FILES, out / "ftp-private", site=5)
    write_export_listing(out / "drip-listing", t.DRIP_LISTING_FILES)


if __name__ == "__main__":
    write_all(Path(sys.argv[1]))
