"""Failed sign-ins are braked per (user, address) and, under a higher ceiling, per address,
with 429 + Retry-After."""

from __future__ import annotations

import base64
import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelgit.store import Store
from tests.conftest import Site, make_site


@pytest.fixture(scope="module")
def braked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = make_site(tmp_path_factory.mktemp("brake"), settings={})  # defaults: 10 a minute
    site.start()
    # What every test here uses, whichever runs first (or alone): a model, and the two
    # users whose failures count (a failure counts under a name only when it is a user's).
    site.model("brake/m")
    for name in ("victim", "bystander"):
        site.user(name)
        site.cli("grant", "brake/m", name, "user")
    yield site
    site.stop()


def _get(site: Site, path: str, user: str, key: str, source: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=30,
                                      source_address=(source, 0))
    token = base64.b64encode(f"{user}:{key}".encode()).decode()
    conn.request("GET", path, headers={"Authorization": f"Basic {token}"})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp


def test_brake_after_ten_failures(braked: Site, tmp_path: Path) -> None:
    key = braked.keys["victim"]
    model = "brake/m"
    path = f"/{model}.git/info/refs?service=git-upload-pack"
    wrong = "mg_" + "x" * 40
    for _ in range(10):
        assert _get(braked, path, "victim", wrong, "127.0.0.1").status == 401
    blocked = _get(braked, path, "victim", key, "127.0.0.1")
    assert blocked.status == 429, "the right key must not be testable during the cool-down"
    retry = int(blocked.getheader("Retry-After") or "0")
    assert 1 <= retry <= 60
    # The same user from another address is not locked out.
    assert _get(braked, path, "victim", key, "127.0.0.2").status == 200
    denials = Store(braked.data / "modelgit.db").audit_rows(action="auth.denied", limit=50)
    assert len(denials) >= 10 and all(r["address"] == "127.0.0.1" for r in denials)
    assert all(wrong not in str(r) for r in denials), "an audit row holds the presented key"


def test_others_at_the_same_address_keep_signing_in(braked: Site) -> None:
    """Ten wrong keys for one name from a NAT or CI address stop that name there, nobody
    else: failures count per (address, name), under a much higher per-address ceiling."""
    key = braked.keys["bystander"]
    path = "/brake/m.git/info/refs?service=git-upload-pack"
    for _ in range(10):
        assert _get(braked, path, "victim", "mg_" + "v" * 40, "127.0.0.4").status == 401
    assert _get(braked, path, "victim", "mg_" + "v" * 40, "127.0.0.4").status == 429
    assert _get(braked, path, "bystander", key, "127.0.0.4").status == 200
    # Bearer and a key as the user name name nobody: they count towards the ceiling only.
    for header in ("Bearer mg_" + "b" * 40,
                   "Basic " + base64.b64encode(("mg_" + "c" * 40 + ":").encode()).decode()):
        for _ in range(12):
            assert _send(braked, path, header, "127.0.0.4").status == 401
    assert _send(braked, path, f"Bearer {key}", "127.0.0.4").status == 200


def test_per_address_ceiling(braked: Site) -> None:
    """Guessing many user names from one address stops every sign-in from it at the ceiling
    (auth.max_failures_per_address, 100 by default), and only there."""
    key = braked.keys["bystander"]
    path = "/brake/m.git/info/refs?service=git-upload-pack"
    ceiling = 100
    for i in range(ceiling - 1):
        assert _get(braked, path, f"guess{i}", "mg_" + "y" * 40, "127.0.0.3").status == 401
    assert _get(braked, path, "bystander", key, "127.0.0.3").status == 200
    assert _get(braked, path, "guess-last", "mg_" + "y" * 40, "127.0.0.3").status == 401
    assert _get(braked, path, "bystander", key, "127.0.0.3").status == 429
    assert _get(braked, path, "bystander", key, "127.0.0.5").status == 200


def _send(site: Site, path: str, header: str, source: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=30,
                                      source_address=(source, 0))
    conn.request("GET", path, headers={"Authorization": header})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp
