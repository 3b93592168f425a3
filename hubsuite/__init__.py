"""huggingface_hub's own tests, run against a modelgit server (`make test-hub`).

The suite comes from the sdist of the huggingface_hub version the test lock pins, downloaded
and checked against the lock's sha256 at run time (fetch.py); plugin.py is the conftest that
points it at a fresh ``modelgit serve``; run.py runs it and compares the failures with
expected-failures.txt, whose reasons docs/hub-suite.md gives. It is a package of its own, not
part of tests/, because the upstream suite's package is also named ``tests``.
"""
