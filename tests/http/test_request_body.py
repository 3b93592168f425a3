"""The one Content-Length parser the JSON APIs, LFS uploads and hub commits share."""

from __future__ import annotations

import io
import os

import pytest

from modelgit.http.request import BodyError, content_length, read_body, reused_body


@pytest.mark.parametrize("raw", ["+1", "1_0", "-1", "1.0", "0x10", "\xb2", "1" * 20, "1 2"])
def test_a_content_length_that_is_not_plain_digits_is_400(raw: str) -> None:
    with pytest.raises(BodyError) as err:
        content_length({"CONTENT_LENGTH": raw})
    assert err.value.status == 400 and "Content-Length" in err.value.message


@pytest.mark.parametrize(("raw", "expected"), [("", None), ("0", 0), (" 12 ", 12),
                                               ("9" * 19, int("9" * 19))])
def test_plain_digits_or_none(raw: str, expected: int | None) -> None:
    assert content_length({"CONTENT_LENGTH": raw}) == expected


def test_read_body_within_and_over_the_limit() -> None:
    body = b'{"a": 1}'
    assert read_body({"CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)},
                     100) == body
    with pytest.raises(BodyError) as err:  # announced too long: refused before reading
        read_body({"CONTENT_LENGTH": "101", "wsgi.input": io.BytesIO(b"x" * 101)}, 100)
    assert err.value.status == 413
    with pytest.raises(BodyError) as err:  # chunked (no length) and too long
        read_body({"wsgi.input": io.BytesIO(b"x" * 101)}, 100)
    assert err.value.status == 413
    assert read_body({"wsgi.input": io.BytesIO(b"x" * 100)}, 100) == b"x" * 100


def test_reused_body_gives_each_large_body_whole_and_small_ones_as_read_body() -> None:
    """A large body (a xorb) is received into a buffer the next request reuses: each request
    still sees exactly its own bytes, a shorter body after a longer one included."""
    first, second = os.urandom(3 * 1024 * 1024 + 5), os.urandom(2 * 1024 * 1024 + 1)
    limit = 80 * 1024 * 1024
    for body in (first, second, first[:-7]):
        environ = {"CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
        with reused_body(environ, limit) as got:
            assert bytes(got) == body
    with reused_body({"CONTENT_LENGTH": "8", "wsgi.input": io.BytesIO(b"12345678")},
                     limit) as small:
        assert small == b"12345678"
    short = {"CONTENT_LENGTH": str(len(first)), "wsgi.input": io.BytesIO(second)}
    with reused_body(short, limit) as got:  # the client stopped early: what it sent
        assert bytes(got) == second
    with pytest.raises(BodyError) as err, reused_body(
            {"CONTENT_LENGTH": str(limit + 1), "wsgi.input": io.BytesIO(b"")}, limit):
        pass
    assert err.value.status == 413
