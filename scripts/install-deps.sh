#!/usr/bin/env bash
# Installs what exposcan's lab and tests need on a Debian 12 machine, as root.
# Idempotent: installs nothing when every package is already there.
# The lab's servers are started by exposcan itself inside network namespaces;
# a policy-rc.d keeps apt from also starting them as services on this machine.
set -euo pipefail

PACKAGES=(
  python3 python3-venv           # the venv the Makefile builds
  iproute2 iptables              # namespaces, veth, bridge, NAT (iptables-legacy)
  orthanc orthanc-dicomweb       # the PACS (Debian 12: Orthanc 1.10.1)
  samba smbclient                # the NAS share, and smbclient for hand checks
  vsftpd                         # the FTP zones (conflicts with pure-ftpd in Debian: one of them)
  nginx-light                    # the directory listing
  dcmtk                          # storescp (a modality's receiver), echoscu, findscu
  miniupnpd-iptables miniupnpc   # the internet box's IGD, upnpc for hand checks
  radvd                          # the box announces the LAN's IPv6 /64 (SLAAC)
  libnginx-mod-stream            # the relay that puts the IPv4-only Orthanc on IPv6
  redis-server                   # the reflector's job queue (its tests start their own)
  nmap                           # the reference tool of scripts/compare-nmap.sh
  time                           # GNU time: peak RSS of each scanner in make bench
  chromium                       # headless, opens the HTML report in the tests
  chromium-driver                # selenium drives it through the hub's dashboard
  postgresql                     # the hub on PostgreSQL: tests and bench make throw-away clusters
  systemd                        # systemd-analyze verify of contrib/systemd/ in the tests
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: need root to install: ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
