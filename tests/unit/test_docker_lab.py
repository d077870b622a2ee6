"""docker/ (the container lab) stays in step with exposcan_lab/topology.py.

No Docker engine runs on the development and CI machines, so the container
lab cannot be started there: this test reads compose.yaml and the server
configuration files the native lab also starts from, and checks that every
host, address, port, mounted file and forward agrees with the topology.
"""

from __future__ import annotations

import json
import re
from ipaddress import IPv4Address, IPv4Network, IPv6Address
from pathlib import Path
from typing import Any

import pytest
import yaml

from exposcan_lab import topology as t

DOCKER = Path(__file__).resolve().parents[2] / "docker"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    return data


def _service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    svc: dict[str, Any] = compose["services"][name]
    return svc


def _mounted_files(svc: dict[str, Any]) -> dict[str, str]:
    """Bind mounts of the service: source relative to docker/ -> target."""
    out: dict[str, str] = {}
    for v in svc.get("volumes", []):
        src, dst = v.split(":")[:2]
        if src.startswith("./"):
            out[src[2:]] = dst
    return out


def test_compose_networks_match_the_address_plan(compose: dict[str, Any]) -> None:
    # Given compose.yaml
    # When its two networks are read
    nets = {
        name: IPv4Network(n["ipam"]["config"][0]["subnet"])
        for name, n in compose["networks"].items()
    }
    # Then they are the lab's LAN and WAN, with Docker's gateway off the box's address
    assert nets == {"lan": t.LAN_NET, "wan": t.WAN_NET}
    for n in compose["networks"].values():
        gw = IPv4Address(n["ipam"]["config"][0]["gateway"])
        assert gw not in (t.BOX_LAN_IP, t.BOX_WAN_IP)
        assert gw not in {h.ip for h in t.HOSTS}


def test_every_host_is_a_service_with_its_address_and_ports(compose: dict[str, Any]) -> None:
    # Given the hosts of the topology
    services = compose["services"]
    # When each is looked up in compose.yaml
    for h in t.HOSTS:
        svc = _service(compose, h.name)
        addrs = {net: IPv4Address(cfg["ipv4_address"]) for net, cfg in svc["networks"].items()}
        # Then it sits on its side's network at its address and exposes its ports
        assert addrs[h.side] == h.ip, h.name
        assert sorted(int(p) for p in svc.get("expose", [])) == sorted(h.tcp_ports), h.name
    assert {n: IPv4Address(c["ipv4_address"]) for n, c in services["box"]["networks"].items()} == {
        "lan": t.BOX_LAN_IP,
        "wan": t.BOX_WAN_IP,
    }
    # and every other service is a declared helper, not an unknown host
    extra = set(services) - {h.name for h in t.HOSTS}
    for name in extra:
        assert services[name].get("labels", {}).get("exposcan_lab.helper") == "true", name


def test_every_config_file_exists_and_is_mounted(compose: dict[str, Any]) -> None:
    # Given each host's config files in the topology
    for h in t.HOSTS:
        mounted = _mounted_files(_service(compose, h.name))
        for rel in h.config_files:
            # Then the file exists in docker/ and the host's service mounts it
            assert (DOCKER / rel).is_file(), rel
            assert rel in mounted, f"{h.name} does not mount {rel}"
        # and nothing it mounts is missing
        for rel in mounted:
            assert (DOCKER / rel).is_file(), rel


def test_build_files_exist(compose: dict[str, Any]) -> None:
    # Given each service's build section
    for name, svc in compose["services"].items():
        ctx = (DOCKER / svc["build"]["context"]).resolve()
        # Then its Dockerfile is there and starts from Debian 12
        dockerfile = ctx / svc["build"]["dockerfile"]
        assert dockerfile.is_file(), name
        assert re.search(r"^FROM debian:bookworm\b", dockerfile.read_text(), re.M), name


def _orthanc(host: t.Host) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DOCKER / host.config_files[0]).read_text())
    return data


def test_open_orthanc_is_in_its_2020_state() -> None:
    # Given the open PACS config
    cfg = _orthanc(t.PACS)
    # Then remote access without authentication, AE checked, echo/store/find open
    assert cfg["RemoteAccessAllowed"] is True and cfg["AuthenticationEnabled"] is False
    assert cfg["DicomAet"] == t.PACS_AET and cfg["DicomPort"] == t.PACS_DICOM_PORT
    assert cfg["HttpPort"] == t.PACS_HTTP_PORT
    assert cfg["DicomCheckCalledAet"] is True
    assert cfg["DicomAlwaysAllowEcho"] and cfg["DicomAlwaysAllowStore"]
    assert cfg["DicomAlwaysAllowFind"]
    assert cfg["DicomWeb"]["Enable"] and cfg["DicomWeb"]["Root"] == "/dicom-web/"


def test_secure_orthanc_is_locked_down() -> None:
    # Given the secure PACS config
    cfg = _orthanc(t.PACS_SECURE)
    # Then authentication with a non-default account, nothing allowed to strangers
    assert cfg["AuthenticationEnabled"] is True
    assert cfg["RegisteredUsers"] == {t.SECURE_USER: t.SECURE_PASSWORD}
    assert cfg["RegisteredUsers"].get("orthanc") is None
    assert cfg["DicomAet"] == t.SECURE_AET and cfg["DicomPort"] == t.SECURE_DICOM_PORT
    assert cfg["HttpPort"] == t.SECURE_HTTP_PORT
    for key in ("DicomAlwaysAllowEcho", "DicomAlwaysAllowStore", "DicomAlwaysAllowFind"):
        assert cfg[key] is False, key
    assert cfg["DicomCheckCalledAet"] is True and cfg["DicomCheckModalityHost"] is True
    aet, ip, port = t.SECURE_KNOWN_MODALITY
    assert list(cfg["DicomModalities"].values()) == [[aet, str(ip), port]]


def test_samba_shares_match() -> None:
    # Given smb.conf
    text = (DOCKER / "nas" / "smb.conf").read_text()
    sections = dict(re.findall(r"^\[([^\]]+)\]\n(.*?)(?=^\[|\Z)", text, re.M | re.S))
    # Then the guest share is guest-readable, the private one is not
    assert {t.NAS_GUEST_SHARE, t.NAS_PRIVATE_SHARE} <= set(sections)
    assert re.search(r"guest ok = yes", sections[t.NAS_GUEST_SHARE])
    assert re.search(rf"valid users = {t.NAS_PRIVATE_USER}\b", sections[t.NAS_PRIVATE_SHARE])
    assert "guest ok = yes" not in sections[t.NAS_PRIVATE_SHARE]
    assert re.search(r"map to guest = Bad User", sections["global"])
    ports = re.search(r"smb ports = ([\d ]+)", sections["global"])
    assert ports and tuple(int(p) for p in ports.group(1).split()) == t.SMB_PORTS
    # and every path is under the one substituted root
    for path in re.findall(r"(?:dir(?:ectory)?|path|file|backend) = (?:tdbsam:)?(/\S+)", text):
        assert path.startswith(t.CONFIG_ROOT_TOKEN + "/"), path


def test_nginx_serves_an_autoindex_on_port_80() -> None:
    text = (DOCKER / "web" / "nginx.conf").read_text()
    assert re.search(rf"listen {t.WEB_HTTP_PORT}\b", text)
    assert "autoindex on;" in text
    assert f"root {t.CONFIG_ROOT_TOKEN}/www;" in text


def test_box_config_matches_the_forwards() -> None:
    # Given the box's files
    conf = dict(
        line.split("=", 1)
        for line in (DOCKER / "box" / "miniupnpd.conf").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    leases = (DOCKER / "box" / "leases").read_text().split()
    forwards = (DOCKER / "box" / "forwards").read_text()
    base = (DOCKER / "box" / "iptables.rules").read_text()
    # Then miniupnpd listens where the topology says
    assert conf["ext_ifname"] == t.BOX_WAN_IF and conf["listening_ip"] == t.BOX_LAN_IF
    assert int(conf["port"]) == t.IGD_HTTP_PORT
    assert conf["secure_mode"] == "no" and conf["enable_upnp"] == "yes"
    # and the leases are exactly the IGD forwards (PROTO:EPORT:IADDR:IPORT:TIMESTAMP:DESC)
    lease_lines = (DOCKER / "box" / "leases").read_text().splitlines()
    assert lease_lines == [
        f"{f.proto}:{f.wan_port}:{f.lan_ip}:{f.lan_port}:0:{f.description}" for f in t.IGD_FORWARDS
    ]
    assert leases  # not empty
    # and the DNAT rules are exactly every forward, IGD or by hand
    dnat = re.findall(
        r"^-A PREROUTING -i (\S+) -p tcp -m tcp --dport (\d+) -j DNAT"
        r" --to-destination ([\d.]+):(\d+)$",
        forwards,
        re.M,
    )
    assert sorted(dnat) == sorted(
        (t.BOX_WAN_IF, str(f.wan_port), str(f.lan_ip), str(f.lan_port)) for f in t.FORWARDS
    )
    # and NAT loopback (from the LAN, to the public address) on exactly the
    # forwards the topology loops back, each masqueraded so the answer
    # returns through the box
    hairpin = re.findall(
        r"^-A PREROUTING -i (\S+) -d ([\d.]+) -p tcp -m tcp --dport (\d+) -j DNAT"
        r" --to-destination ([\d.]+):(\d+)$",
        forwards,
        re.M,
    )
    assert sorted(hairpin) == sorted(
        (t.BOX_LAN_IF, str(t.BOX_WAN_IP), str(f.wan_port), str(f.lan_ip), str(f.lan_port))
        for f in t.LOOPBACK_FORWARDS
    )
    assert t.LOOPBACK_FORWARDS and len(t.LOOPBACK_FORWARDS) < len(t.FORWARDS)
    masq = re.findall(
        rf"^-A POSTROUTING -o {t.BOX_LAN_IF} -s {t.LAN_NET} -d ([\d.]+) -p tcp -m tcp"
        r" --dport (\d+) -m conntrack --ctstate DNAT -j MASQUERADE$",
        forwards,
        re.M,
    )
    assert sorted(masq) == sorted({(str(f.lan_ip), str(f.lan_port)) for f in t.LOOPBACK_FORWARDS})
    # and none sits in the rules applied before miniupnpd (it would drop the leases)
    assert "-j DNAT" not in base


def test_canary_strings_cover_every_patient() -> None:
    for p in t.CANARY_PATIENTS:
        assert {p.name, p.patient_id, p.birth_date} <= set(t.CANARY_STRINGS)
    assert t.CANARY_UID_ROOT in t.CANARY_STRINGS


def test_hostile_host_runs_hostile_py_with_the_topology_arguments(
    compose: dict[str, Any],
) -> None:
    # Given the hostile host's service
    svc = _service(compose, t.HOSTILE.name)
    # Then it starts hostile.py with the same arguments as the native lab
    assert svc["command"] == ["python3", "/opt/lab/hostile.py", *t.HOSTILE_ARGV]
    assert svc["build"]["dockerfile"] == "docker/junk/Dockerfile"
    # and so do the second round's hostile hosts
    for host, argv in ((t.HOSTILE2, t.HOSTILE2_ARGV), (t.HOSTILE3, t.HOSTILE3_ARGV)):
        svc = _service(compose, host.name)
        assert svc["command"] == ["python3", "/opt/lab/hostile.py", *argv], host.name
        assert svc["build"]["dockerfile"] == "docker/junk/Dockerfile"


def test_ipv6_plan_matches_the_topology(compose: dict[str, Any]) -> None:
    # Given compose.yaml's IPv6 subnets and addresses
    nets = {
        name: [c["subnet"] for c in n["ipam"]["config"]] for name, n in compose["networks"].items()
    }
    # Then the LAN and WAN carry the topology's /64s
    assert str(t.LAN6_NET) in nets["lan"] and str(t.WAN6_NET) in nets["wan"]
    assert all(n.get("enable_ipv6") for n in compose["networks"].values())
    # and every host with a global IPv6 address in the native lab has it here
    for h in t.HOSTS:
        address = t.global_ipv6(h)
        v6 = {
            net: IPv6Address(cfg["ipv6_address"])
            for net, cfg in _service(compose, h.name)["networks"].items()
            if "ipv6_address" in cfg
        }
        assert v6.get(h.side) == address, h.name
    box = _service(compose, "box")
    assert IPv6Address(box["networks"]["wan"]["ipv6_address"]) == t.BOX_WAN_IP6
    # and the box routes IPv6 without filtering, as the native lab's box
    assert box["sysctls"]["net.ipv6.conf.all.forwarding"] == "1"
    relay = (DOCKER / "pacs" / "nginx-relay.conf").read_text()
    for port in t.PACS_RELAY_PORTS:
        assert f"listen [::]:{port} ipv6only=on;" in relay
        assert f"proxy_pass {t.PACS.ip}:{port};" in relay
    radvd = (DOCKER / "box" / "radvd.conf").read_text()
    assert f"prefix {t.LAN6_NET}" in radvd and f"interface {t.BOX_LAN_IF}" in radvd


def test_dcmtk_hosts_look_callers_up_as_installed(compose: dict[str, Any]) -> None:
    # Given the dcmtk hosts and the practice's DNS (slow associations)
    for host, argv in (
        (t.MODALITY, t.MODALITY_ARGV),
        (t.VIEWER, t.VIEWER_ARGV),
        (t.ARCHIVE, t.ARCHIVE_ARGV),
    ):
        svc = _service(compose, host.name)
        command = svc.get("command")
        if command is None:  # the Dockerfile's CMD
            dockerfile = DOCKER / svc["build"]["dockerfile"]
            cmd = re.search(r"^CMD (\[.*\])$", dockerfile.read_text(), re.M)
            assert cmd, host.name
            command = json.loads(cmd.group(1))
        # Then each runs the native lab's argv, with no --disable-host-lookup
        assert command == list(argv), host.name
        assert "--disable-host-lookup" not in command
        # and gets its resolver from the lab's DNS
        assert _mounted_files(svc)[f"{host.name}/resolv.conf"] == "/etc/resolv.conf"
        conf = (DOCKER / host.name / "resolv.conf").read_text()
        assert f"nameserver {t.DNS_IP}" in conf
    dns = _service(compose, t.DNS.name)
    assert dns["command"] == ["python3", "/opt/lab/resolver.py", *t.RESOLVER_ARGV]
    # and the viewer's DNS drops: its association waits the whole look-up
    drop = t.RESOLVER_ARGV.index("--drop")
    assert t.RESOLVER_ARGV[drop + 1] == str(t.VIEWER.ip)


def test_archive_checks_its_called_ae() -> None:
    # Given dcmqrscp's configuration
    cfg = (DOCKER / "archive" / "dcmqrscp.cfg").read_text()
    # Then it listens on the topology's port and knows only the archive's AE
    assert re.search(rf"^NetworkTCPPort\s*=\s*{t.ARCHIVE_PORT}$", cfg, re.M)
    block = cfg.split("AETable BEGIN")[1].split("AETable END")[0]
    titles = [line.split()[0] for line in block.splitlines() if line.strip()]
    assert titles == [t.ARCHIVE_AET]


def test_qrscp_runs_pynetdicoms_app_with_the_topology_arguments(compose: dict[str, Any]) -> None:
    # Given the qrscp host's service
    svc = _service(compose, t.QRSCP.name)
    # Then it runs pynetdicom's qrscp app as the native lab does, with its
    # identifier log off, and the canary service loads its studies
    assert svc["command"] == ["python3", *t.QRSCP_ARGV]
    ini = (DOCKER / "qrscp" / "qrscp.ini").read_text()
    assert re.search(r"^\s*log_identifier: False$", ini, re.M)
    assert re.search(rf"^\s*port: {t.QRSCP_PORT}$", ini, re.M)
    assert (
        f"-aec {t.QRSCP_AET} {t.QRSCP.ip} {t.QRSCP_PORT}"
        in (DOCKER / "canary" / "load.sh").read_text()
    )


def test_the_public_name_has_an_a_and_an_aaaa_record() -> None:
    # Given the internet host's hosts file
    lines = [
        line.split()
        for line in (DOCKER / "inet" / "hosts").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # Then the practice's name is the box's public IPv4 and the PACS's IPv6
    addresses = {a for a, *names in lines if t.PUBLIC_NAME in names}
    assert addresses == {str(t.BOX_WAN_IP), str(t.global_ipv6(t.PACS))}


def _vsftpd(host: t.Host) -> dict[str, str]:
    text = (DOCKER / host.config_files[0]).read_text()
    return dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#")
    )


def test_vsftpd_zones_are_read_only_and_the_private_one_named_users_only() -> None:
    # Given the two vsftpd configurations
    open_zone, private = _vsftpd(t.FTP), _vsftpd(t.FTP_PRIVATE)
    # Then the open one takes anonymous logins, without TLS, and nobody writes
    assert open_zone["anonymous_enable"] == "YES" and open_zone["write_enable"] == "NO"
    assert open_zone.get("ssl_enable", "NO") == "NO"
    assert open_zone["anon_root"] == f"{t.CONFIG_ROOT_TOKEN}/zone"
    # and the private one: named accounts only, TLS forced for logins and data
    assert private["anonymous_enable"] == "NO" and private["write_enable"] == "NO"
    assert private["ssl_enable"] == "YES" and private["force_local_logins_ssl"] == "YES"
    assert private["rsa_cert_file"] == f"{t.CONFIG_ROOT_TOKEN}/vsftpd.pem"
    # and both listen where the topology says, with the passive range the box forwards
    low, high = t.FTP_PASSIVE_PORTS
    for conf in (open_zone, private):
        assert int(conf["listen_port"]) == t.FTP_PORT and conf["background"] == "NO"
        assert (int(conf["pasv_min_port"]), int(conf["pasv_max_port"])) == (low, high)
    forwards = (DOCKER / "box" / "forwards").read_text()
    assert f"--dport {low}:{high} -j DNAT --to-destination {t.FTP.ip}\n" in forwards, (
        "the passive ports must follow the FTP forward"
    )


def test_the_modality_runs_dicom_over_tls_as_the_native_lab(compose: dict[str, Any]) -> None:
    # Given the modality's two storescp over TLS (TLS facts, and a
    # node requiring a client certificate)
    for helper, argv in (
        ("modality-tls", t.MODALITY_TLS_ARGV),
        ("modality-tls-open", t.MODALITY_TLS_OPEN_ARGV),
    ):
        svc = compose["services"][helper]
        # Then each runs the native lab's argv in the modality's namespace,
        # looking callers up as installed, with the key the modality mounts
        assert svc["command"] == list(argv), helper
        assert svc["network_mode"] == f"service:{t.MODALITY.name}"
        assert "--disable-host-lookup" not in svc["command"]
        assert _mounted_files(svc)[t.MODALITY_TLS_PEM] == "/srv/lab/dicom-tls.pem"
    assert "--require-peer-cert" in t.MODALITY_TLS_ARGV
    assert "--ignore-peer-cert" in t.MODALITY_TLS_OPEN_ARGV


def test_the_ris_runs_wlmscpfs_as_the_native_lab(compose: dict[str, Any]) -> None:
    # Given the RIS's service
    svc = _service(compose, t.RIS.name)
    dockerfile = (DOCKER / svc["build"]["dockerfile"]).read_text()
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.M)
    assert cmd
    # Then it runs wlmscpfs with the native lab's arguments (host look-up on)
    assert json.loads(cmd.group(1)) == list(t.RIS_ARGV)
    # over the worklist files the canary service writes, and the lab's DNS
    assert _mounted_files(svc)["ris/resolv.conf"] == "/etc/resolv.conf"
    assert "ris-worklist:/srv/lab/worklist:ro" in svc["volumes"]
    assert "ris-worklist:/out/ris" in _service(compose, "canary")["volumes"]


def test_the_dicomweb_pacs_is_open_behind_a_permissive_front() -> None:
    # Given the DICOMweb host's Orthanc and nginx configurations
    orthanc = _orthanc(t.DICOMWEB)
    nginx = (DOCKER / "dicomweb" / "nginx.conf").read_text()
    # Then Orthanc answers its local side only, without authentication, with
    # DICOMweb and no DICOM port
    assert orthanc["HttpPort"] == t.DICOMWEB_ORTHANC_PORT
    assert (orthanc["RemoteAccessAllowed"], orthanc["AuthenticationEnabled"]) == (False, False)
    assert orthanc["DicomServerEnabled"] is False and orthanc["DicomWeb"]["Enable"] is True
    # And nginx, on the host's address, echoes any Origin with credentials
    assert f"listen {t.DICOMWEB.ip}:{t.DICOMWEB_HTTP_PORT};" in nginx
    assert f"proxy_pass http://127.0.0.1:{t.DICOMWEB_ORTHANC_PORT};" in nginx
    assert "add_header Access-Control-Allow-Origin $http_origin always;" in nginx
    assert "add_header Access-Control-Allow-Credentials true always;" in nginx


def test_the_worklist_files_hold_only_canary_identities(tmp_path: Path) -> None:
    # Given the RIS's worklist files as the lab writes them
    import pydicom

    from exposcan_lab.canary import write_worklist

    files = write_worklist(tmp_path)
    assert len(files) == t.RIS_SCHEDULED_STEPS
    assert (tmp_path / t.RIS_AET / "lockfile").is_file()
    for path in files:
        ds = pydicom.dcmread(path)
        step = ds.ScheduledProcedureStepSequence[0]
        # Then every identity in them is a canary string a test looks for
        values = [
            str(ds.PatientName),
            ds.PatientID,
            ds.PatientBirthDate,
            ds.AccessionNumber,
            ds.RequestedProcedureID,
            str(ds.RequestingPhysician),
            str(step.ScheduledPerformingPhysicianName),
            step.ScheduledProcedureStepID,
            step.ScheduledProcedureStepDescription,
            ds.StudyInstanceUID,
        ]
        for value in values:
            assert any(c in value for c in t.CANARY_STRINGS), value
