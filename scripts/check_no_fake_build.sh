#!/usr/bin/env bash
# Checks a `payments` binary built with `--no-default-features`: no fake PG
# command or variable, and local mode refused with a message naming the cause.
set -euo pipefail
bin="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
# A default (debug) build holds hundreds of these symbols; this one, none.
for fake in payments_iamport::fake payments_toss::fake payments_portone::fake payments_fakekit; do
  if grep -aq "$fake" "$bin"; then
    echo "a build without fakes holds code of $fake" >&2; exit 1
  fi
done
if "$bin" fake-toss --help >/dev/null 2>&1; then
  echo "a build without fakes still has the fake-toss command" >&2; exit 1
fi
if "$bin" env | grep -q '^PAYMENT_FAKE_'; then
  echo "a build without fakes lists fake variables" >&2; exit 1
fi
set +e
out="$(env -i PATH="$PATH" "$bin" serve 2>&1)"
code=$?
set -e
if [ "$code" -eq 0 ]; then
  echo "a build without fakes served in local mode" >&2; exit 1
fi
case "$out" in
  *PAYMENT_MODE*"built without"*) ;;
  *) echo "local mode refused without naming why: $out" >&2; exit 1 ;;
esac
if [ -e payments.db ]; then
  echo "the refused start created a database" >&2; exit 1
fi
echo "server without fakes: builds, holds no fake code, no fake command or variable, local mode refused (exit $code)"
