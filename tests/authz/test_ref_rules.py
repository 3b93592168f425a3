"""The ref rules of docs/access.md (``authz.refs.ref_ruling``), as an exhaustive table.

Every combination of ref (namespace and name), role, operation and object type is checked
against an oracle written the other way round: first the list of reasons that would refuse,
then allowed when there is none. The e2e tests (tests/hooks/test_hooks_e2e.py) show the same
rules on real pushes; this file shows there is no combination the e2e tests missed.
"""

from __future__ import annotations

import itertools

import pytest

from modelgit.authz.refs import ref_ruling

DEFAULT = "main"
REFS = [
    *(f"refs/heads/{n}" for n in ("main", "feature", "HEAD", "HEAD/x", "x/HEAD", "-rf",
                                  "a/-b", "")),
    *(f"refs/tags/{n}" for n in ("v1", "HEAD", "rel/HEAD", "-v", "")),
    "refs/notes/commits", "refs/pull/1/head", "refs/heads", "HEAD", "refs/main",
]
ROLES = (None, "visitor", "user", "developer", "maintainer", "owner", "nonsense")
# (create, delete, fast_forward)
OPERATIONS = {
    "create": (True, False, None),
    "fast-forward": (False, False, True),
    "force": (False, False, False),
    "delete": (False, True, None),
}
# (type of the pushed object, type after peeling annotated tags); None: missing
TYPES = {
    "commit": ("commit", "commit"),
    "tag->commit": ("tag", "commit"),
    "tag->tag->commit": ("tag", "commit"),
    "blob": ("blob", "blob"),
    "tree": ("tree", "tree"),
    "tag->blob": ("tag", "blob"),
    "tag->tree": ("tag", "tree"),
    "tag->tag->blob": ("tag", "blob"),
    "missing": (None, None),
    "tag->missing": ("tag", None),
}
RANK = {"developer": 2, "maintainer": 3, "owner": 4, "visitor": 0, "user": 1}


def expected(ref: str, role: str | None, op: str, kind: str) -> str | None:
    """The first reason to refuse, as a short word, or None for allowed."""
    create, delete, ff = OPERATIONS[op]
    direct, peeled = TYPES[kind]
    if ref.startswith("refs/heads/"):
        namespace, name = "branch", ref.removeprefix("refs/heads/")
    elif ref.startswith("refs/tags/"):
        namespace, name = "tag", ref.removeprefix("refs/tags/")
    else:
        return "namespace"
    reasons = []
    if name == "":
        reasons.append("name")
    elif any(p.startswith("-") for p in name.split("/")):
        reasons.append("name")
    elif name == "HEAD" and not delete:
        reasons.append("name")
    if not delete:
        ok_type = peeled == "commit" if namespace == "tag" else direct == "commit"
        if direct is None or peeled is None or not ok_type:
            reasons.append("type")
    rank = RANK.get(role or "", -1)
    if rank < 2:
        reasons.append("role")
    if namespace == "tag" and not create and rank < 3:
        reasons.append("role")
    if namespace == "branch" and name == DEFAULT and rank < 3 and (delete or ff is False):
        reasons.append("role")
    return reasons[0] if reasons else None


CASES = list(itertools.product(REFS, ROLES, OPERATIONS, TYPES))


def test_the_table_is_exhaustive() -> None:
    assert len(CASES) == len(REFS) * len(ROLES) * len(OPERATIONS) * len(TYPES) > 2000


@pytest.mark.parametrize(("ref", "role"), list(itertools.product(REFS, ROLES)))
def test_ref_ruling_table(ref: str, role: str | None) -> None:
    for op, kind in itertools.product(OPERATIONS, TYPES):
        create, delete, ff = OPERATIONS[op]
        direct, peeled = TYPES[kind]
        asked: list[bool] = []

        def fast_forward(ff: bool | None = ff, asked: list[bool] = asked) -> bool:
            asked.append(True)
            assert ff is not None, "fast_forward asked for a create or a delete"
            return ff

        ruling = ref_ruling(ref=ref, role=role, model_id="s/m", default_branch=DEFAULT,
                            create=create, delete=delete, new_type=direct, peeled_type=peeled,
                            fast_forward=fast_forward)
        want = expected(ref, role, op, kind)
        case = f"{ref} {role} {op} {kind}"
        assert ruling.allowed == (want is None), f"{case}: {ruling.reason or 'allowed'}"
        if ruling.allowed:
            assert ruling.reason == ""
            continue
        assert ruling.reason.startswith(ref), case
        if want == "type" and ref.startswith("refs/tags/") and peeled is not None:
            assert ruling.reason == f"{ref} points at a {peeled}; only commits may be tagged here."
        if want == "name" and ref.endswith("/HEAD") and ref.count("/") == 2:
            assert "'HEAD' is not a" in ruling.reason
        if want == "role":
            assert "needs maintainer" in ruling.reason or "needs developer" in ruling.reason, \
                case
        # The history walk is asked for only where its answer decides.
        if asked:
            assert ref == f"refs/heads/{DEFAULT}" and op in ("fast-forward", "force"), case


def test_messages_say_what_to_do() -> None:
    common = {"model_id": "s/m", "default_branch": "main", "new_type": "commit",
              "peeled_type": "commit", "fast_forward": lambda: False}
    moved = ref_ruling(ref="refs/tags/v1", role="developer", create=False, delete=False,
                       **common)  # type: ignore[arg-type]
    assert moved.reason == ("refs/tags/v1: moving an existing tag of s/m needs maintainer;"
                            " push a new tag instead (e.g. v1.1), or ask a maintainer.")
    deleted = ref_ruling(ref="refs/tags/v1", role="developer", create=False, delete=True,
                         **common)  # type: ignore[arg-type]
    assert deleted.reason.startswith("refs/tags/v1: deleting an existing tag of s/m needs"
                                     " maintainer")
    head = ref_ruling(ref="refs/heads/HEAD", role="owner", create=True, delete=False,
                      **common)  # type: ignore[arg-type]
    assert "'HEAD' is not a branch name here" in head.reason
    tree = {**common, "new_type": "tree", "peeled_type": "tree"}
    tagged_tree = ref_ruling(ref="refs/tags/t", role="owner", create=True, delete=False,
                             **tree)  # type: ignore[arg-type]
    assert tagged_tree.reason == "refs/tags/t points at a tree; only commits may be tagged here."
