"""The one rule for whole-number query arguments and the one JSON body reader of the APIs."""

from __future__ import annotations

import io

import pytest

from modelgit.authz.decide import Subject
from modelgit.errors import Invalid
from modelgit.http.auth import AuthResult
from modelgit.http.request import BodyError, Request, int_arg, read_json


def _req(query: str = "", body: bytes = b"", ctype: str = "application/json") -> Request:
    environ = {"QUERY_STRING": query, "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": ctype,
               "wsgi.input": io.BytesIO(body)}
    return Request(environ, AuthResult(Subject(None), presented=False, failed=False))


@pytest.mark.parametrize("query", ["limit=0", "limit=51", "limit=-1", "limit=x",
                                   "limit=1234567890"])
def test_out_of_range_or_not_digits_is_refused_naming_the_range(query: str) -> None:
    with pytest.raises(Invalid) as err:
        int_arg(_req(query), "limit", 10, 1, 50)
    assert err.value.status == 400
    assert err.value.message == "limit must be a whole number from 1 to 50"


@pytest.mark.parametrize(("query", "expected"), [("", 10), ("limit=", 10), ("limit=1", 1),
                                                 ("limit=50", 50)])
def test_in_range_or_absent(query: str, expected: int) -> None:
    assert int_arg(_req(query), "limit", 10, 1, 50) == expected


@pytest.mark.parametrize(("body", "ctype", "status"), [
    (b'{"a": 1}', "text/plain", 415), (b"  ", "application/json", 400),
    (b"{nope", "application/json", 400), (b'{"a": 1, "a": 2}', "application/json", 400),
    (b"x" * 101, "application/json", 413)])
def test_read_json_refusals(body: bytes, ctype: str, status: int) -> None:
    with pytest.raises(BodyError) as err:
        read_json(_req(body=body, ctype=ctype), 100)
    assert err.value.status == status


def test_read_json_reads_an_object() -> None:
    assert read_json(_req(body=b'{"a": [1]}', ctype="application/json; charset=utf-8"),
                     100) == {"a": [1]}
