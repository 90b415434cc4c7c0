#!/usr/bin/env bash
# Installs Debian's chromium and chromium-driver when absent: the console's
# browser test drives headless Chromium through chromedriver (WebDriver).
# Called by .ci/run.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends chromium chromium-driver fonts-noto-cjk >/dev/null 2>&1 \
  || { apt-get update >/dev/null && apt-get install -y --no-install-recommends chromium chromium-driver fonts-noto-cjk >/dev/null; }
command -v chromium >/dev/null && command -v chromedriver >/dev/null
