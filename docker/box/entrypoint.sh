#!/bin/sh
# The internet box: NAT, port forwards, miniupnpd. Same files as the native
# lab (docker/box/*), which names the interfaces lan0 and wan0 in the box's
# namespace; here Docker names them eth0/eth1 in no fixed order, so rename
# them by address first.
set -e
rename() { # ADDRESS NEWNAME
    dev=$(ip -o -4 addr show | awk -v a="$1" 'index($4, a"/")==1 {print $2; exit}')
    [ "$dev" = "$2" ] && return 0
    ip link set "$dev" down
    ip link set "$dev" name "$2"
    ip link set "$2" up
}
rename 198.18.0.1 lan0
rename 203.0.113.1 wan0
# Docker removed the routes with the links; the WAN side is the way out.
ip route replace 198.18.0.0/24 dev lan0
ip route replace 203.0.113.0/24 dev wan0
iptables-legacy-restore < /etc/miniupnpd/lab/iptables.rules
mkdir -p /srv/lab/miniupnpd
# miniupnpd deletes and rewrites its lease file: start from the pristine one.
cp /etc/miniupnpd/lab/leases /srv/lab/miniupnpd/leases
# The LAN's /64 announced (SLAAC); no inbound IPv6 filter by default.
radvd -n -C /etc/radvd/lab/radvd.conf -p /srv/lab/radvd.pid -m stderr &
miniupnpd -d -f /etc/miniupnpd/lab/miniupnpd.conf -P /srv/lab/miniupnpd/miniupnpd.pid &
pid=$!
# The forwards only once miniupnpd has read its leases (see forwards).
i=0; while [ $i -lt 50 ] && ! grep -q "HTTP listening" /proc/$pid/fd/1 2>/dev/null; do sleep 0.1; i=$((i+1)); done
sleep 0.5
iptables-legacy-restore --noflush < /etc/miniupnpd/lab/forwards
wait $pid
