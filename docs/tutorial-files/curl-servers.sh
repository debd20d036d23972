#!/bin/sh
# Asks <address> for a page ten times a second, on a fresh connection each time, and prints
# each answer's first line (or curl's error): leave it running while a Deployment rolls out.
#   ./curl-servers.sh 198.18.0.2
[ $# -eq 1 ] || { echo "usage: $0 <address>[:port]" >&2; exit 2; }
while :; do
  curl -sS --max-time 2 "http://$1/" 2>&1 | head -n 1
  sleep 0.1
done
