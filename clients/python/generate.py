#!/usr/bin/env python3
"""Generates the Python client from the committed OpenAPI document.

    python generate.py           rewrite payments_client/ and payments_sdk/_operations.py
    python generate.py --check   generate into a temporary directory and fail
                                 when the committed files differ (a stale client)

Run it with the interpreter of a virtual environment that has
requirements.txt installed (the generator, and ruff, which formats its
output, come from there: the pinned versions make the output reproducible).

Outputs:
  payments_client/               every operation and schema of
                                 ../../openapi/payments.json, by
                                 openapi-python-client (nothing in it is
                                 written by hand)
  payments_sdk/_operations.py    the operations marked `x-encrypted`, read by
                                 the AES transport of the legacy wire

Either way, it fails when the generator skips an operation of the document,
or warns about anything but the `text/plain` form of an encrypted operation
that also has its `application/json` form (the AES envelope, which no
generator can know: the JSON form is generated).
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
DOCUMENT = ROOT.parent.parent / "openapi" / "payments.json"
CONFIG = ROOT / "openapi-python-client.yaml"
PACKAGE = "payments_client"
OPERATIONS = Path("payments_sdk") / "_operations.py"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SEALED = "text/plain; charset=utf-8"
JSON_FORMS = ("application/json", "application/json; charset=utf-8")


def snake(name: str) -> str:
    """`getHistoryById` -> `get_history_by_id`, as the generator names modules."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                found.append((method.upper(), path, item[method]))
    return found


def run_generator(out: Path) -> str:
    """Runs openapi-python-client into `out`/payments_client; answers what it printed."""
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    command = [
        str(bin_dir / "openapi-python-client"),
        "generate",
        "--path",
        str(DOCUMENT),
        "--config",
        str(CONFIG),
        "--meta",
        "none",
        "--output-path",
        str(out / PACKAGE),
    ]
    done = subprocess.run(command, cwd=out, env=env, capture_output=True, text=True, timeout=300, check=False)
    printed = done.stdout + done.stderr
    if done.returncode != 0:
        sys.exit(f"openapi-python-client failed ({done.returncode}):\n{printed}")
    return printed


def check_nothing_skipped(document: dict[str, Any], printed: str, package: Path) -> str:
    """Fails unless every operation was generated and every warning is an
    encrypted operation's text/plain form beside its JSON form; answers a summary."""
    by_key = {f"{method} {path}": operation for method, path, operation in operations(document)}
    problems = []
    expected = 0
    lines = printed.splitlines()
    for index, line in enumerate(lines):
        if line.startswith(("Skipping Integration", "Unable to", "Error(s)")) or line.endswith(" failed"):
            problems.append(f"{line}: {' '.join(lines[index + 1 : index + 3]).strip()}")
        if not line.startswith("WARNING parsing "):
            continue
        detail = next((text for text in lines[index + 1 :] if text.strip()), "")
        key = " ".join(line.removeprefix("WARNING parsing ").split(" within ")[0].split(" ", 1))
        operation = by_key.get(key, {})
        content = operation.get("requestBody", {}).get("content", {})
        envelope_only = (
            "will not be generated" not in line
            and detail.strip() == "Unsupported content type text/plain"
            and operation.get("x-encrypted") is True
            and SEALED in content
            and any(form in content for form in JSON_FORMS)
        )
        if envelope_only:
            expected += 1
        else:
            problems.append(f"{line} {detail}")
    for method, path, operation in operations(document):
        module = f"{snake(operation['operationId'])}.py"
        if not any(package.joinpath("api").rglob(module)):
            problems.append(f"{method} {path} ({operation['operationId']}): no module {module} was generated")
    if problems:
        sys.exit("openapi-python-client did not generate the whole document:\n  " + "\n  ".join(problems))
    return (
        f"openapi-python-client generated all {len(by_key)} operations; its {expected} warnings are each "
        "the text/plain form (the AES envelope) of an operation whose application/json form it generated"
    )


def render_operations(document: dict[str, Any]) -> str:
    encrypted = sorted(
        (f"{method} {path}", operation.get("operationId"))
        for method, path, operation in operations(document)
        if operation.get("x-encrypted") is True
    )
    lines = [
        '"""The operations marked `x-encrypted` in openapi/payments.json.',
        "",
        "Generated by clients/python/generate.py; do not edit.",
        '"""',
        "",
        "# `METHOD /path/{param}` of every operation with an AES (text/plain) form, with its operationId.",
        "ENCRYPTED_OPERATIONS: dict[str, str] = {",
        *(f"    {json.dumps(key)}: {json.dumps(operation_id)}," for key, operation_id in encrypted),
        "}",
        "",
    ]
    return "\n".join(lines)


def differences(fresh: Path, committed: Path) -> list[str]:
    stale: list[str] = []

    def walk(comparison: filecmp.dircmp[str], at: Path) -> None:
        stale.extend(f"{at / name} (missing)" for name in comparison.left_only)
        stale.extend(f"{at / name} (not generated any more)" for name in comparison.right_only)
        stale.extend(str(at / name) for name in comparison.diff_files + comparison.funny_files)
        for name, sub in comparison.subdirs.items():
            walk(sub, at / name)

    if not committed.is_dir():
        return [f"{committed.name} (missing)"]
    walk(filecmp.dircmp(fresh, committed, ignore=["__pycache__", ".ruff_cache"]), Path(committed.name))
    return stale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed client is stale")
    args = parser.parse_args()
    text = DOCUMENT.read_text(encoding="utf-8")
    document = json.loads(text)
    with tempfile.TemporaryDirectory(prefix="payments-python-client-") as scratch:
        out = Path(scratch)
        printed = run_generator(out)
        summary = check_nothing_skipped(document, printed, out / PACKAGE)
        operations_text = render_operations(document)
        if args.check:
            stale = differences(out / PACKAGE, ROOT / PACKAGE)
            committed = ROOT / OPERATIONS
            if not committed.is_file() or committed.read_text(encoding="utf-8") != operations_text:
                stale.append(str(OPERATIONS))
            if stale:
                sys.exit(
                    "clients/python is stale against openapi/payments.json: "
                    + ", ".join(stale)
                    + ".\nRegenerate it with: (cd clients/python && .venv/bin/python generate.py), then commit the result."
                )
            print(summary)
            print("clients/python/payments_client is up to date with openapi/payments.json")
        else:
            shutil.rmtree(ROOT / PACKAGE, ignore_errors=True)
            shutil.copytree(out / PACKAGE, ROOT / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", ".ruff_cache"))
            (ROOT / OPERATIONS).write_text(operations_text, encoding="utf-8")
            print(summary)
            print(f"wrote {PACKAGE}/ and {OPERATIONS}")


if __name__ == "__main__":
    main()
