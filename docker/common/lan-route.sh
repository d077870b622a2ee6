#!/bin/sh
# Entry point of every lab container but the box: make the box the default
# gateway (Docker's own gateway, .254, is not the practice's router), then run
# the service. Usage: lan-route.sh GATEWAY CMD...
set -e
gw="$1"; shift
ip route replace default via "$gw"
exec "$@"
