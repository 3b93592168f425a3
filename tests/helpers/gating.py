"""A gated model as people meet one: the gated README, a model seeded with it, and the
requester's call that the 403 text tells them to make.

Shared by the gating flow, the notification mails and the address tests.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.git import commit_file, git
from tests.helpers.site import HttpAnswer, Site

PROMPT = "You agree to share your contact details and to use this model for research only."
README = f"""---
license: mit
extra_gated_prompt: "{PROMPT}"
extra_gated_fields:
  Country: country
  I agree to the terms: checkbox
  Affiliation: text
---
# A gated model
"""
GOOD = {"Country": "fr", "I agree to the terms": True, "Affiliation": "ACME Research"}


def gated_model(site: Site, model_id: str, tmp: Path, *, gated: str = "manual") -> str:
    """A public gated model whose main branch has the gated README, pushed by its owner."""
    site.model(model_id, public=True, gated=gated)
    repo = tmp / f"seed-{model_id.replace('/', '-')}"
    git("clone", "-q", site.clone_url(model_id, "owner"), str(repo))
    commit_file(repo, "README.md", README, "gated card")
    commit_file(repo, "weights.txt", "0.1 0.2\n", "weights")
    git("push", "-q", "origin", "main", cwd=repo)
    return model_id


def ask(site: Site, model_id: str, user: str, answers: object,
        key: str | None = None) -> HttpAnswer:
    """The requester's call, as the 403 text tells people to make it."""
    return site.http("POST", f"/api/models/{model_id}/user-access-request",
                     key=key or site.keys[user], body=json.dumps(answers).encode(),
                     headers={"Content-Type": "application/json"})
