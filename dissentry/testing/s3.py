"""A local S3-compatible server for object-storage tests: moto's server mode (the `moto[server]`
test dependency), in its own process, on loopback. The tests talk to it the way a deployment talks
to S3: through s3fs, with credentials and the endpoint in the environment (AWS_ENDPOINT_URL),
nothing in the config file."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

ACCESS_KEY = "AKIADISSENTRYTEST01"
SECRET_KEY = "s3cret-Vq93-never-in-the-lake"  # a secret the tests look for in every output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def moto_server(startup_seconds: float = 30.0) -> Iterator[str]:
    """Start `python -m moto.server` on a free loopback port; yield its endpoint URL; stop it.

    Its request log goes to a temporary file, never to a pipe: a pipe nobody reads fills up and
    blocks the server mid-response."""
    port = _free_port()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + startup_seconds
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"moto server exited: {log.read().decode(errors='replace')[-2000:]}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"moto server did not listen on port {port} in {startup_seconds}s") from None
                    time.sleep(0.1)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def s3_environment(endpoint: str) -> dict[str, str]:
    """What a worker's environment holds to reach the store; botocore reads every one of these."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@dataclass
class Bucket:
    """A fresh bucket of the local server, with what the tests need to look inside it."""

    endpoint: str
    name: str

    def url(self, prefix: str = "") -> str:
        return f"s3://{self.name}/{prefix}".rstrip("/")

    @property
    def fs(self) -> Any:
        import s3fs

        return s3fs.S3FileSystem(
            key=ACCESS_KEY, secret=SECRET_KEY, endpoint_url=self.endpoint, use_listings_cache=False,
            skip_instance_cache=True,
        )

    def object_keys(self, prefix: str = "") -> list[str]:
        """Every object key under `prefix`, without the bucket name."""
        base = f"{self.name}/{prefix}".rstrip("/")
        fs = self.fs
        return sorted(k.removeprefix(f"{self.name}/") for k in fs.find(base)) if fs.exists(base) else []

    def create(self) -> Bucket:
        self.fs.mkdir(self.name)
        return self


def new_bucket(endpoint: str) -> Bucket:
    return Bucket(endpoint, f"lake-{uuid.uuid4().hex[:12]}").create()


def apply_environment(endpoint: str, setenv: Any) -> None:
    for name, value in s3_environment(endpoint).items():
        setenv(name, value)

