#!/usr/bin/env bash
# After the suite: no namespace of the test labs, no process of theirs, left behind.
left=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^exl-(pytest|demo|cmp)-' || true)
if [ -n "$left" ]; then
  echo "lab teardown leaked namespaces: $left" >&2
  exit 1
fi
echo "no lab namespace left behind"
