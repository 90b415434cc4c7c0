#!/usr/bin/env python3
"""A tiny webhook receiver for the README walkthrough.

Listens on 127.0.0.1:PORT (default 4000), answers 200 to every POST, and prints
the Standard Webhooks headers and the body decrypted with openssl (AES-CBC,
the connection key and IV from PAYMENT_CONNECTION_ENCRYPTION_KEY/IV or the
local-mode development defaults). Standard library and openssl only.
"""
import http.server
import os
import subprocess
import sys

KEY = os.environ.get("PAYMENT_CONNECTION_ENCRYPTION_KEY", "local-dev-connection-key-32-byte").encode()
IV = os.environ.get("PAYMENT_CONNECTION_ENCRYPTION_IV", "local-dev-iv-16b").encode()


def decrypt(body: bytes) -> str:
    cipher = "aes-256-cbc" if len(KEY) == 32 else "aes-128-cbc"
    result = subprocess.run(
        ["openssl", "enc", "-d", f"-{cipher}", "-K", KEY.hex(), "-iv", IV.hex(), "-base64", "-A"],
        input=body, capture_output=True, check=False,
    )
    return result.stdout.decode() if result.returncode == 0 else f"(not decryptable: {result.stderr.decode().strip()})"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        print(f"--- {self.path}  webhook-id: {self.headers.get('webhook-id')}", flush=True)
        print(decrypt(body), flush=True)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    print(f"receiving webhooks on http://127.0.0.1:{port}/", flush=True)
    http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
