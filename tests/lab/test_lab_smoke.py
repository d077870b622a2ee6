"""The lab is what it claims: checked with the real clients (dcmtk, smbclient,
upnpc, plain sockets and HTTP) from the workstation and from the internet.

If one of these fails, a scanner test failing in the lab proves nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from exposcan_lab import Lab, missing_requirements, netns, procs
from exposcan_lab import topology as t
from tests.support.requirements import missing

pytestmark = pytest.mark.lab

# A tiny client run inside a namespace: connect, optionally send, read at
# most N bytes for at most T seconds, report what happened as JSON.
_TCP_CLIENT = textwrap.dedent(
    """
    import json, socket, sys, time
    host, port, send = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
    limit, wait = int(sys.argv[4]), float(sys.argv[5])
    out = {"connected": False, "received": 0, "head": "", "closed": False}
    try:
        s = socket.create_connection((host, port), timeout=3)
    except OSError as e:
        out["error"] = str(e)
    else:
        out["connected"] = True
        if send:
            s.sendall(send)
        end = time.monotonic() + wait
        buf = b""
        s.settimeout(0.2)
        while len(buf) < limit and time.monotonic() < end:
            try:
                chunk = s.recv(limit - len(buf))
            except socket.timeout:
                continue
            if not chunk:
                out["closed"] = True
                break
            buf += chunk
        out["received"], out["head"] = len(buf), buf[:64].hex()
        s.close()
    print(json.dumps(out))
    """
)

_HTTP_CLIENT = textwrap.dedent(
    """
    import base64, json, sys, urllib.request, urllib.error
    req = urllib.request.Request(sys.argv[1])
    if len(sys.argv) > 2:
        req.add_header("Authorization", "Basic " + base64.b64encode(sys.argv[2].encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            status, body, headers = r.status, r.read(200000), r.headers
    except urllib.error.HTTPError as e:
        status, body, headers = e.code, e.read(2000), e.headers
    print(json.dumps({"status": status, "body": body.decode("latin-1"), "headers": dict(headers)}))
    """
)


def tcp(
    lab: Lab,
    host: str,
    ip: object,
    port: int,
    send: bytes = b"",
    limit: int = 4096,
    wait: float = 1.0,
) -> dict[str, Any]:
    p = lab.run(
        host,
        [sys.executable, "-c", _TCP_CLIENT, str(ip), str(port), send.hex(), str(limit), str(wait)],
        timeout=30,
    )
    assert p.returncode == 0, p.stderr
    result: dict[str, Any] = json.loads(p.stdout)
    return result


def http(lab: Lab, host: str, url: str, auth: str | None = None) -> dict[str, Any]:
    p = lab.run(
        host, [sys.executable, "-c", _HTTP_CLIENT, url, *([auth] if auth else [])], timeout=30
    )
    assert p.returncode == 0, p.stderr
    result: dict[str, Any] = json.loads(p.stdout)
    return result


# --- the open PACS ---------------------------------------------------------------


def test_open_pacs_rest_answers_without_auth_and_discloses_its_ae(lab: Lab) -> None:
    # Given the 2020-state Orthanc
    # When the workstation asks /system without credentials
    r = http(lab, "ws", f"http://{t.PACS.ip}:{t.PACS_HTTP_PORT}/system")
    # Then it answers, and gives away the AE title a DICOM scan needs
    assert r["status"] == 200
    system = json.loads(r["body"])
    assert system["DicomAet"] == t.PACS_AET
    assert system["DicomPort"] == t.PACS_DICOM_PORT
    assert system["Version"].startswith("1.")


def test_open_pacs_holds_the_canary_studies(lab: Lab) -> None:
    # Given the lab loaded the canary studies at up
    # When Orthanc is asked locally for its statistics
    stats = lab.orthanc_statistics("pacs")
    # Then the counts the scanner tests rely on hold
    assert int(stats["CountStudies"]) == t.EXPECTED_PACS_STUDIES
    assert int(stats["CountPatients"]) == t.EXPECTED_PACS_PATIENTS
    assert lab.orthanc_instance_count("pacs") == t.EXPECTED_PACS_INSTANCES
    assert lab.orthanc_instance_count("pacs-secure") == t.EXPECTED_SECURE_INSTANCES


def test_open_pacs_dicomweb_answers_without_auth(lab: Lab) -> None:
    # Given the DICOMweb plugin on the open PACS
    # When QIDO-RS lists studies without credentials
    r = http(lab, "ws", f"http://{t.PACS.ip}:{t.PACS_HTTP_PORT}/dicom-web/studies")
    # Then every canary study comes back
    assert r["status"] == 200
    assert len(json.loads(r["body"])) == t.EXPECTED_PACS_STUDIES


def test_echoscu_needs_the_right_called_ae(lab: Lab) -> None:
    # Given DicomCheckCalledAet on the open PACS
    # When dcmtk's echoscu calls it with its AE title, then with another
    good = lab.run(
        "ws", ["/usr/bin/echoscu", "-aec", t.PACS_AET, str(t.PACS.ip), str(t.PACS_DICOM_PORT)]
    )
    bad = lab.run(
        "ws", ["/usr/bin/echoscu", "-aec", "NOTTHEAE", str(t.PACS.ip), str(t.PACS_DICOM_PORT)]
    )
    # Then the first is verified and the second rejected for its called AE
    assert good.returncode == 0, good.stderr
    assert bad.returncode != 0
    assert "Called AE Title Not Recognized" in bad.stdout + bad.stderr


def test_open_pacs_answers_cfind_from_anyone(lab: Lab) -> None:
    # Given DicomAlwaysAllowFind on the open PACS
    # When findscu asks at STUDY level with only an empty StudyInstanceUID
    p = lab.run(
        "ws",
        [
            "/usr/bin/findscu",
            "-S",
            "-aet",
            "WHOEVER",
            "-aec",
            t.PACS_AET,
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            "StudyInstanceUID",
            str(t.PACS.ip),
            str(t.PACS_DICOM_PORT),
        ],
    )
    # Then one response per canary study comes back
    assert p.returncode == 0, p.stderr
    out = p.stdout + p.stderr
    assert out.count("(0020,000d)") == t.EXPECTED_PACS_STUDIES


# --- the secure PACS (negative case) -------------------------------------------------


def test_secure_pacs_wants_credentials(lab: Lab) -> None:
    # Given the well-configured Orthanc
    # When /system is asked without, then with, its account
    anon = http(lab, "ws", f"http://{t.PACS_SECURE.ip}:{t.SECURE_HTTP_PORT}/system")
    authed = http(
        lab,
        "ws",
        f"http://{t.PACS_SECURE.ip}:{t.SECURE_HTTP_PORT}/system",
        auth=f"{t.SECURE_USER}:{t.SECURE_PASSWORD}",
    )
    # Then the anonymous request gets 401 and the account works (it is up)
    assert anon["status"] == 401
    assert "Orthanc Secure Area" in anon["headers"].get("WWW-Authenticate", "")
    assert authed["status"] == 200
    assert json.loads(authed["body"])["DicomAet"] == t.SECURE_AET


def test_secure_pacs_refuses_unknown_calling_ae(lab: Lab) -> None:
    # Given DicomAlwaysAllowEcho false and DicomCheckModalityHost true
    # When the workstation echoes with the right called AE but an unknown caller
    p = lab.run(
        "ws",
        [
            "/usr/bin/echoscu",
            "-aet",
            "WHOEVER",
            "-aec",
            t.SECURE_AET,
            str(t.PACS_SECURE.ip),
            str(t.SECURE_DICOM_PORT),
        ],
    )
    # Then the association is rejected
    assert p.returncode != 0
    assert "Rejected" in p.stdout + p.stderr


# --- NAS, web, modality -------------------------------------------------------------------


def test_guest_lists_shares_and_reads_imagerie_only(lab: Lab) -> None:
    # Given Samba with a guest share and a named-user share
    # When smbclient lists shares and folders as guest (-N)
    shares = lab.run("ws", ["smbclient", "-N", "-L", f"//{t.NAS.ip}"])
    public = lab.run(
        "ws", ["smbclient", "-N", f"//{t.NAS.ip}/{t.NAS_GUEST_SHARE}", "-c", "recurse; ls"]
    )
    private = lab.run("ws", ["smbclient", "-N", f"//{t.NAS.ip}/{t.NAS_PRIVATE_SHARE}", "-c", "ls"])
    # Then both shares show, every file of imagerie is readable, compta is not
    assert t.NAS_GUEST_SHARE in shares.stdout and t.NAS_PRIVATE_SHARE in shares.stdout
    assert public.returncode == 0, public.stderr
    for f in t.NAS_IMAGING_FILES:
        assert f.path.rsplit("/", 1)[-1] in public.stdout
    assert private.returncode != 0
    assert "NT_STATUS_ACCESS_DENIED" in private.stdout + private.stderr


def test_smb_answers_on_139_too(lab: Lab) -> None:
    # Given smb ports = 445 139 (no NetBIOS daemon)
    # When smbclient lists shares on port 139
    p = lab.run("ws", ["smbclient", "-N", "-p", "139", "-L", f"//{t.NAS.ip}"])
    # Then the same shares come back
    assert t.NAS_GUEST_SHARE in p.stdout, p.stderr


def test_nginx_lists_the_dicom_folder(lab: Lab) -> None:
    # Given nginx autoindex over the canary folder
    # When the workstation asks for /
    r = http(lab, "ws", f"http://{t.WEB.ip}/")
    # Then the listing names each first-level entry
    assert r["status"] == 200
    assert "Index of /" in r["body"]
    assert r["body"].count('<a href="') - 1 == t.EXPECTED_WEB_ROOT_ENTRIES  # minus "../"
    assert lab.web_root.exists()


def test_modality_accepts_anyone_and_starts_empty(lab: Lab) -> None:
    # Given storescp on the modality
    # When anybody echoes it
    p = lab.run(
        "ws",
        [
            "/usr/bin/echoscu",
            "-aet",
            "WHOEVER",
            "-aec",
            "ANYTHING",
            str(t.MODALITY.ip),
            str(t.MODALITY_PORT),
        ],
    )
    # Then it answers, and nothing has been stored
    assert p.returncode == 0, p.stderr
    assert list(lab.storescp_dir.iterdir()) == []


# --- the box: IGD and forwards --------------------------------------------------------------


def test_igd_lists_its_two_forwards_but_not_the_hand_set_one(lab: Lab) -> None:
    # Given miniupnpd with a pre-written lease file
    # When upnpc lists the mappings from the workstation
    p = lab.run("ws", ["upnpc", "-u", t.IGD_ROOTDESC_URL, "-l"])
    # Then the IGD forwards show and the manual one does not
    for f in t.IGD_FORWARDS:
        assert f"{f.wan_port}->{f.lan_ip}:{f.lan_port}" in p.stdout, p.stdout
        assert f.description in p.stdout
    for f in t.MANUAL_FORWARDS:
        assert f"{f.wan_port}->" not in p.stdout


def test_ssdp_multicast_crosses_the_bridge(lab: Lab) -> None:
    # Given the bridge without multicast snooping
    # When upnpc discovers by SSDP (no -u)
    p = lab.run("ws", ["upnpc", "-m", t.HOST_IF, "-s"])
    # Then the box's IGD answers
    assert t.IGD_ROOTDESC_URL in p.stdout + p.stderr


@pytest.mark.parametrize("port", [f.wan_port for f in t.FORWARDS])
def test_internet_reaches_every_forward(lab: Lab, port: int) -> None:
    # Given the box's DNAT rules
    # When the internet host connects to the box's WAN address
    r = tcp(lab, "inet", t.BOX_WAN_IP, port, wait=0)
    # Then the forward leads to the LAN service
    assert r["connected"], r


@pytest.mark.parametrize("forward", t.FORWARDS, ids=lambda f: str(f.wan_port))
def test_nat_loopback_only_on_the_looped_back_forwards(lab: Lab, forward: t.PortForward) -> None:
    # Given a box that loops some public ports back to the LAN (hairpin)
    # When the workstation connects to the box's public address on a forward
    r = tcp(lab, "ws", t.BOX_WAN_IP, forward.wan_port, wait=0)
    # Then it reaches the service behind it exactly when that forward loops back
    assert r["connected"] is forward.loopback, r


def test_internet_sees_the_lan_web_through_47000(lab: Lab) -> None:
    # Given the hand-set forward 47000 -> web:80
    # When the internet host fetches it
    r = http(lab, "inet", f"http://{t.BOX_WAN_IP}:47000/")
    # Then it is the practice's listing
    assert r["status"] == 200 and "Index of /" in r["body"]


def test_lan_hosts_are_not_routable_from_the_internet(lab: Lab) -> None:
    # Given a box that lets in from the WAN only replies and its forwards
    # (a real ISP would not even route 198.18.0.0/24 to it)
    # When the internet host tries an unforwarded LAN service directly
    r = tcp(lab, "inet", t.NAS.ip, t.SMB_PORTS[0], wait=0)
    # Then it fails
    assert not r["connected"]


# --- the hostile host ---------------------------------------------------------------------


def test_tarpit_accepts_and_stays_silent(lab: Lab) -> None:
    # Given the tarpit port
    # When a client connects, speaks and waits 1.5 s
    r = tcp(lab, "ws", t.JUNK.ip, t.HOSTILE_TARPIT_PORT, send=b"GET / HTTP/1.0\r\n\r\n", wait=1.5)
    # Then it is connected, gets nothing and is not closed
    assert r["connected"] and r["received"] == 0 and not r["closed"]


def test_spew_sends_without_being_asked(lab: Lab) -> None:
    # Given the spew port
    # When a client connects and only reads
    r = tcp(lab, "ws", t.JUNK.ip, t.HOSTILE_SPEW_PORT, limit=100_000, wait=2)
    # Then bytes pour in up to the client's own bound
    assert r["received"] == 100_000


def test_fake_dicom_answers_a_pdu_looking_header_then_closes(lab: Lab) -> None:
    # Given the fake DICOM port
    # When a client sends anything
    r = tcp(lab, "ws", t.JUNK.ip, t.HOSTILE_DICOM_PORT, send=b"\x01\x00hello", wait=3)
    # Then it gets 0x02 0x00 + a length, then the connection closes
    assert r["head"].startswith("0200")
    assert r["closed"]


def test_endless_http_never_finishes(lab: Lab) -> None:
    # Given the endless HTTP port
    # When a client sends a request and reads 50 kB
    r = tcp(
        lab,
        "ws",
        t.JUNK.ip,
        t.HOSTILE_HTTP_PORT,
        send=b"GET / HTTP/1.1\r\nHost: j\r\n\r\n",
        limit=50_000,
        wait=3,
    )
    # Then a 200 head arrives and the body is still going
    assert bytes.fromhex(r["head"]).startswith(b"HTTP/1.1 200")
    assert r["received"] == 50_000 and not r["closed"]


# --- CLI and teardown ---------------------------------------------------------------------


def test_cli_status_and_exec(lab: Lab) -> None:
    # Given the running session lab
    # When the CLI reports status and runs a command in a host
    cli = [sys.executable, "-m", "exposcan_lab.cli"]
    status = subprocess.run(
        [*cli, "status", "--name", lab.name], capture_output=True, text=True, timeout=30
    )
    ex = subprocess.run(
        [
            *cli,
            "exec",
            "--name",
            lab.name,
            "ws",
            "--",
            "sh",
            "-c",
            "ip -4 -o addr show dev eth0; exit 7",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    # Then status says up, and exec runs in the host and returns its code
    assert status.returncode == 0, status.stdout
    assert ex.returncode == 7
    assert str(t.WS.ip) in ex.stdout


def test_down_leaves_nothing_behind() -> None:
    # Given a second lab, of its own name
    if absent := missing_requirements():
        missing("practice lab (" + ", ".join(absent) + ")")
    lab = Lab.up("pytest-down")
    try:
        pids = [(p.pid, p.start_ticks) for p in lab.processes]
        prefix = t.netns_name(lab.name, "")
        assert any(n.startswith(prefix) for n in netns.existing_namespaces())
        # When it is torn down (twice: down is idempotent)
        lab.down()
        lab.down()
    finally:
        Lab.teardown("pytest-down")
    # Then no namespace of it, no process of it, no runtime dir remain
    assert not [n for n in netns.existing_namespaces() if n.startswith(prefix)]
    assert not [pid for pid, ticks in pids if procs.is_alive(pid, ticks)]
    assert not lab.runtime_dir.exists()
