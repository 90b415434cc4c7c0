#!/usr/bin/env bash
# Validates openapi/payments.json as an OpenAPI 3 document with the Python
# `openapi-spec-validator` from PyPI, installed into a venv under target/
# (or, where venvs are unavailable, into the user's site-packages).
set -euo pipefail
cd "$(dirname "$0")/.."
document="${1:-openapi/payments.json}"
venv="${OPENAPI_VALIDATOR_VENV:-target/openapi-venv}"
requirement="openapi-spec-validator>=0.7,<0.8"
if [ -x "$venv/bin/openapi-spec-validator" ]; then
  validator="$venv/bin/openapi-spec-validator"
elif python3 -m venv "$venv" >/dev/null 2>&1; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$requirement"
  validator="$venv/bin/openapi-spec-validator"
else
  rm -rf "$venv"
  python3 -m pip install --quiet --user --disable-pip-version-check "$requirement" \
    || python3 -m pip install --quiet --user --break-system-packages --disable-pip-version-check "$requirement"
  validator="python3 -m openapi_spec_validator"
fi
$validator "$document"
