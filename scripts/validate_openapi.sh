#!/usr/bin/env bash
# Validates openapi/payments.json as an OpenAPI 3 document with the Python
# `openapi-spec-validator` (installed from PyPI into a venv under target/).
set -euo pipefail
cd "$(dirname "$0")/.."
document="${1:-openapi/payments.json}"
venv="${OPENAPI_VALIDATOR_VENV:-target/openapi-venv}"
if [ ! -x "$venv/bin/openapi-spec-validator" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "openapi-spec-validator>=0.7,<0.8"
fi
"$venv/bin/openapi-spec-validator" "$document"
