"""``http.trusted_proxies``: a load balancer that reaches ``modelgit serve`` over TCP (front
ends on several machines) names the client in ``X-Forwarded-For``; only a listed peer is
believed, so the brake and the audit log count real clients, not the balancer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from modelgit.store import Store
from tests.conftest import TEST_SETTINGS, Site, make_site

WRONG = "mg_" + "y" * 40  # pragma: allowlist secret


def _site(tmp_path_factory: pytest.TempPathFactory, trusted: list[str]) -> Iterator[Site]:
    site = make_site(tmp_path_factory.mktemp("proxies"),
                     {**TEST_SETTINGS, "http": {"trusted_proxies": trusted}})
    site.start()
    site.model("px/m")
    site.user("px-user")
    yield site
    site.stop()


@pytest.fixture(scope="module")
def trusting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from _site(tmp_path_factory, ["127.0.0.1"])


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from _site(tmp_path_factory, [])


def _failed_from(site: Site, forwarded: str) -> str:
    answer = site.http("GET", "/px/m.git/info/refs?service=git-upload-pack", user="px-user",
                       key=WRONG, headers={"X-Forwarded-For": forwarded})
    assert answer.status == 401
    row = Store(site.data / "modelgit.db").audit_rows(action="auth.denied", limit=1)[0]
    return str(row["address"])


def test_a_trusted_balancer_names_the_client(trusting: Site) -> None:
    assert _failed_from(trusting, "198.51.100.7, 203.0.113.9") == "203.0.113.9"


def test_anyone_else_cannot_claim_an_address(plain: Site) -> None:
    assert _failed_from(plain, "203.0.113.9") == "127.0.0.1"
