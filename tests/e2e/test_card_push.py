"""Model cards at push time: broken cards refused with README lines, good ones indexed."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Site, commit_file, git

GOOD = """---
Training framework:
  - PyTorch
Job type:
  Type: Natural language processing
  Algorithm: Translation
license: apache-2.0
tags: [seq2seq, demo]
Number of parameters: 1200000
Performance information:
  - Dataset:
      Name: wmt16
      Permission: Public
      Link: ""
      Performance metric:
        bleu: 27.5
---
# Translator
"""

BROKEN = GOOD.replace("Algorithm: Translation", "Algorithm: Object Detection").replace(
    "- PyTorch", "- Pytorch")


def test_broken_card_refused_then_fixed_card_indexed(site: Site, work: Path) -> None:
    model = site.model("cards/translator")
    repo = work / "r"
    git("clone", "-q", site.clone_url(model, "owner"), str(repo))
    first = git("ls-remote", site.clone_url(model, "owner"), "refs/heads/main").stdout
    assert first.strip()  # the model's first commit (.gitattributes)
    commit_file(repo, "README.md", BROKEN, "broken card")
    pushed = git("push", "origin", "main", cwd=repo, check=False)
    assert pushed.returncode != 0
    err = pushed.stderr
    assert "remote: modelgit: push rejected: the model card README.md is invalid" in err
    assert "README.md:3: Training framework[0]" in err and "Did you mean 'PyTorch'" in err
    assert "README.md:6: Job type.Algorithm" in err
    assert git("ls-remote", site.clone_url(model, "owner"), "refs/heads/main").stdout == first

    commit_file(repo, "README.md", GOOD, "fixed card")
    git("push", "-q", "origin", "main", cwd=repo)
    _, out, _ = site.cli("--json", "model", "list", "--framework", "pytorch")
    assert [m["id"] for m in json.loads(out)] == [model]
    _, out, _ = site.cli("--json", "model", "list", "--task", "translation", "--tag", "DEMO",
                         "--license", "Apache-2.0")
    assert [m["id"] for m in json.loads(out)] == [model]
    _, out, _ = site.cli("--json", "model", "list", "--framework", "TensorFlow")
    assert json.loads(out) == []
    _, out, _ = site.cli("--json", "model", "show", model)
    card = json.loads(out)["card"]
    assert card["parameters"] == 1200000
    assert card["performance"] == [{"dataset": "wmt16", "metric": "bleu", "value": 27.5}]


def test_card_only_checked_when_readme_changes(site: Site, work: Path) -> None:
    """A branch that does not touch README.md is not blocked by an old card (new branches
    are checked)."""
    model = site.model("cards/other")
    repo = work / "r"
    git("clone", "-q", site.clone_url(model, "owner"), str(repo))
    commit_file(repo, "README.md", GOOD)
    git("push", "-q", "origin", "main", cwd=repo)
    commit_file(repo, "weights.txt", "w")
    git("push", "-q", "origin", "main", cwd=repo)
    commit_file(repo, "README.md", "---\nNumber of parameters: many\n---\n", "bad")
    refused = git("push", "origin", "main:feature", cwd=repo, check=False)
    assert refused.returncode != 0 and "Number of parameters" in refused.stderr


def test_card_check_cli(site: Site, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.md", tmp_path / "README.md"
    good.write_text(GOOD)
    bad.write_text(BROKEN)
    assert site.cli("card", "check", str(good))[0] == 0
    code, _, err = site.cli("card", "check", str(bad), ok=False)
    assert code == 1
    assert "README.md:6: Job type.Algorithm" in err


def test_huge_readme_refused_without_reading_it_all(site: Site, work: Path) -> None:
    model = site.model("cards/huge")
    repo = work / "r"
    git("clone", "-q", site.clone_url(model, "owner"), str(repo))
    commit_file(repo, "README.md", "---\nlicense: mit\n---\n" + "x" * (9 * 1024 * 1024), "big")
    pushed = git("push", "origin", "main", cwd=repo, check=False)
    assert pushed.returncode != 0
    assert "README.md is 9437205 bytes; a model card README must be under 8 MiB" in pushed.stderr
