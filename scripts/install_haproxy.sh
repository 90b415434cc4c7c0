#!/usr/bin/env bash
# Installs Debian's haproxy when absent: the multi-instance test runs three
# servers behind it (deploy/haproxy.cfg). Called by .ci/run.
set -euo pipefail
if command -v haproxy >/dev/null; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends haproxy >/dev/null 2>&1 \
  || { apt-get update >/dev/null && apt-get install -y --no-install-recommends haproxy >/dev/null; }
command -v haproxy >/dev/null
