"""The hub suite's expected failures (hubsuite/expected-failures.txt) each have a written
reason in docs/hub-suite.md, and the lock pins the huggingface_hub whose sdist `make test-hub`
downloads, with its digests (checked without the network)."""

from __future__ import annotations

from hubsuite import fetch, run


def test_every_listed_failure_has_a_reason_in_the_docs() -> None:
    listed = run.expected()
    assert listed, "the list is read"
    assert run.undocumented_groups(listed) == []


def test_the_lock_pins_the_client_whose_tests_run() -> None:
    import huggingface_hub

    version, digests = fetch.pinned()
    assert version == huggingface_hub.__version__
    assert len(digests) >= 2  # the wheel's and the sdist's
