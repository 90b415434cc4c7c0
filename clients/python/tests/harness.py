"""A `payments serve` for the tests: local mode (SQLite in a temporary
directory, the fake PGs in-process), every port chosen by the system (the
server prints where it listens), clients added before it starts, stopped by
SIGTERM at the end.

The binary is PAYMENTS_BIN, else target/debug/payments of the repository
(`cargo build -p payments`).
"""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[3]


def binary() -> Path:
    path = Path(os.environ.get("PAYMENTS_BIN") or REPOSITORY / "target" / "debug" / "payments")
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: build it with `cargo build -p payments` (or set PAYMENTS_BIN)")
    return path


@dataclass(frozen=True)
class Keys:
    """What a backend holds: its API key (none: the legacy client), the wire
    key and IV that seal its bodies and webhooks, its webhook secret."""

    api_key: str | None
    wire_key: str
    wire_iv: str
    webhook_secret: str


#: The legacy client's keys: the server's connection key and webhook secret,
#: of our own choosing rather than the built-in development ones.
LEGACY = Keys(
    api_key=None,
    wire_key="py-test-connection-key-32-bytes!",
    wire_iv="py-test-iv-16-b!",
    webhook_secret="whsec_" + base64.b64encode(b"python-test-webhook-secret-32-bytes").decode(),
)

_LISTENING = re.compile(r"^payments listening on (?P<url>http://\S+)(?: \((?P<fakes>.*)\))?$")


class PaymentsServer:
    """One `payments serve` in `workdir`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.url = ""
        self.fakes: dict[str, str] = {}
        self._process: subprocess.Popen[str] | None = None
        self._log = workdir / "server.log"
        self._listening = threading.Event()

    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", ""),
            "PAYMENT_MODE": "local",
            "PAYMENT_API_HOST": "127.0.0.1",
            "PAYMENT_API_PORT": "0",
            "PAYMENT_METRICS_ADDR": "127.0.0.1:0",
            "PAYMENT_ADMIN_ADDR": "127.0.0.1:0",
            "PAYMENT_FAKE_IAMPORT_PORT": "0",
            "PAYMENT_FAKE_TOSS_PORT": "0",
            "PAYMENT_FAKE_PORTONE_PORT": "0",
            "PAYMENT_DATABASE_URL": f"sqlite://{self.workdir / 'payments.db'}",
            "PAYMENT_CONNECTION_ENCRYPTION_KEY": LEGACY.wire_key,
            "PAYMENT_CONNECTION_ENCRYPTION_IV": LEGACY.wire_iv,
            "PAYMENT_WEBHOOK_SECRET": LEGACY.webhook_secret,
            "PAYMENT_WEBHOOK_POLL_MS": "100",
            "PAYMENT_ARGON2_MEMORY_KIB": "256",
            "PAYMENT_ARGON2_ITERATIONS": "1",
            "PAYMENT_LOG": "info",
        }

    def add_client(self, name: str, *, plain_json: bool) -> Keys:
        """`payments clients add`: its keys, as printed once."""
        command = [str(binary()), "clients", "add", "--name", name]
        if plain_json:
            command.append("--plain-json")
        done = subprocess.run(
            command, cwd=self.workdir, env=self.env(), capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"payments clients add failed ({done.returncode}): {done.stderr[-4000:]}")

        def printed(label: str) -> str:
            found = re.search(rf"^\s*{label}\s+(\S+)\s*$", done.stdout, re.MULTILINE)
            if found is None:
                raise RuntimeError(f"payments clients add printed no {label!r} line")
            return found.group(1)

        return Keys(
            api_key=printed(r"api key \(Authorization: Bearer \.\.\.\)"),
            wire_key=printed("wire key"),
            wire_iv=printed("wire iv"),
            webhook_secret=printed("webhook secret"),
        )

    def start(self, timeout: float = 60) -> None:
        """Starts the server; returns once it accepts connections."""
        log = self._log.open("w")
        self._process = subprocess.Popen(
            [str(binary()), "serve"],
            cwd=self.workdir,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()
        threading.Thread(target=self._read_stdout, name="payments-stdout", daemon=True).start()
        if not self._listening.wait(timeout) or not self.url:
            self.stop()
            raise RuntimeError(f"payments serve did not listen within {timeout} s:\n{self.logs()}")

    def _read_stdout(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            found = _LISTENING.match(line.strip())
            if found and not self._listening.is_set():
                self.url = found.group("url")
                for fake in (found.group("fakes") or "").split(", "):
                    if fake.startswith("fake "):
                        code, url = fake.removeprefix("fake ").split(" ", 1)
                        self.fakes[code] = url
                self._listening.set()
        self._listening.set()  # exited before listening: start() reports it

    @property
    def toss_url(self) -> str:
        return self.fakes["toss.payments"]

    def logs(self) -> str:
        return self._log.read_text(errors="replace")[-20000:] if self._log.exists() else ""

    def stop(self, grace: float = 15) -> None:
        """SIGTERM, then waits; fails (after a SIGKILL) when it does not exit
        in `grace` seconds or exits with an error."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
            raise RuntimeError(f"payments serve did not exit within {grace} s of SIGTERM:\n{self.logs()}") from None
        if code not in (0, -signal.SIGTERM):
            raise RuntimeError(f"payments serve exited with {code}:\n{self.logs()}")
