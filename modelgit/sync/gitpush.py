"""The ``git push`` to the target: its environment (the key as a header through
``GIT_CONFIG_*``, never argv, so ``ps`` cannot show it) and its refusal as one line."""

from __future__ import annotations

import os
import re

from modelgit.sync.failure import SyncFailure, one_line

#: Environment variables never passed on to the ``git push`` child: other config injected
#: through the environment (ours replaces it), and tracing that could print headers.
_DROP_ENV_PREFIXES = ("GIT_CONFIG_", "GIT_TRACE")
_DROP_ENV = frozenset({"GIT_ASKPASS", "SSH_ASKPASS", "GIT_DIR", "GIT_WORK_TREE",
                       "GIT_INDEX_FILE", "GIT_QUARANTINE_PATH", "GIT_OBJECT_DIRECTORY",
                       "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CURL_VERBOSE",
                       "GIT_CONFIG_PARAMETERS", "GIT_NAMESPACE"})
_PROGRESS = re.compile(r"^(Resolving deltas|Counting|Compressing|Writing|Total|"
                       r"Enumerating|Delta compression|Unpacking)\b")


def git_env(key: str) -> dict[str, str]:
    """The environment of ``git push``: the key as an ``http.extraHeader`` given through
    ``GIT_CONFIG_*`` variables, the credential helpers emptied (nothing may store or
    replace it), no prompts, no tracing."""
    env = {k: v for k, v in os.environ.items()
           if k not in _DROP_ENV and not k.startswith(_DROP_ENV_PREFIXES)}
    env.update({
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Bearer {key}",
        "GIT_CONFIG_KEY_1": "credential.helper",
        "GIT_CONFIG_VALUE_1": "",
    })
    return env


def push_failure(region: str, stderr: str, stdout: str) -> SyncFailure:
    """The target's refusal as one line: its ``remote:`` lines (what its hooks or its
    ``decide()`` said), else git's rejection or error."""
    remote = []
    for line in stderr.splitlines():
        if line.startswith("remote: "):
            text = line[len("remote: "):].strip()
            if text and not _PROGRESS.match(text):
                remote.append(text)
    if remote:
        return SyncFailure(f"region {region} refused the push: {one_line(' '.join(remote))}")
    rejected = [line.split("\t")[-1] for line in stdout.splitlines() if line.startswith("!")]
    if rejected:
        return SyncFailure(f"region {region} rejected the push: {one_line(' '.join(rejected))}")
    errors = [line for line in stderr.splitlines()
              if line.startswith(("fatal:", "error:"))] or stderr.splitlines()[-1:]
    return SyncFailure(f"git push to region {region} failed: {one_line(' '.join(errors))}")
