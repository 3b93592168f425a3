"""Property tests: the front-matter parser and the name checks take any text, answer fast,
and never raise anything but their own refusal."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from modelgit import names
from modelgit.schema import check_card, parse_front_matter

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

yaml_ish = st.lists(
    st.one_of(
        st.sampled_from(["---", "  ---", "---  ", "\ufeff---", "a: &x [1, 2]", "b: *x",
                         "c: [[[[", "- !!python/object:os.system", "Job type:", "  Type: Audio",
                         "Number of parameters: -1", "extra_gated_fields:", "  X: select",
                         "key: 'unterminated", "\t- tab", "? complex", "d: 2026-02-30"]),
        st.text(max_size=80),
    ),
    max_size=40,
).map("\n".join)


@FAST
@given(yaml_ish)
def test_front_matter_parser_total_and_bounded(text: str) -> None:
    for content in (text.encode("utf-8", "surrogatepass"), ("---\n" + text + "\n---\n").encode(
            "utf-8", "surrogatepass")):
        started = time.monotonic()
        parsed = parse_front_matter(content)
        checked = check_card(content)
        assert time.monotonic() - started < 2.0
        for result in (parsed, checked):
            assert result.data is None or isinstance(result.data, dict)
            for err in result.errors:
                assert isinstance(err.format(), str)


@FAST
@given(st.binary(max_size=4096))
def test_front_matter_parser_takes_any_bytes(content: bytes) -> None:
    result = check_card(content, required=True)
    assert result.ok or result.errors


@FAST
@given(st.text(max_size=200))
@example("0..")  # a user name hypothesis found passing check_user
def test_name_checks_total(text: str) -> None:
    for check in (names.check_user, names.check_space):
        try:
            ok = check(text)
        except names.InvalidName as exc:
            assert str(exc)
        else:
            assert ok == text and text.isascii() and "/" not in text and ".." not in text
    if names.is_model_id(text):
        model = text.split("/")[1]
        assert ".." not in text and not model.endswith(".git") and text.isascii()
