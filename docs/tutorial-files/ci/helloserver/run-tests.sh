#!/bin/sh
# helloserver's test suite: the handler's answer must name the host and list the environment.
cd "$(dirname "$0")" || exit 1
out=$(HELLO_TEST=yes python3 -c 'import os, server; print(server.hello(os.environ), end="")') || {
  echo "FAIL: the handler raised an error"
  exit 1
}
status=0
for want in "You have reached" "Env Vars" "HELLO_TEST=yes"; do
  if printf '%s\n' "$out" | grep -q "$want"; then
    echo "ok: the answer contains \"$want\""
  else
    echo "FAIL: the answer lacks \"$want\"; it was:"
    printf '%s\n' "$out" | sed 's/^/    /'
    status=1
  fi
done
[ "$status" -eq 0 ] && echo "PASS: helloserver" || echo "FAILED: helloserver"
exit "$status"
