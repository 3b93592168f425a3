"""The hub commit's limits, settings and its one error type."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from modelgit.errors import ModelgitError

if TYPE_CHECKING:
    from modelgit.config import Config

log = logging.getLogger("modelgit.hub")

ZERO = "0" * 40

#: Files larger than this are uploaded through LFS even without a ``.gitattributes`` pattern
#: (config ``hub.lfs_threshold_bytes``); the hubs use the same 10 MiB.
DEFAULT_LFS_THRESHOLD = 10 * 1024 * 1024
#: Largest commit body read (config ``hub.max_commit_bytes``): regular files travel in it as
#: base64, LFS files do not.
DEFAULT_MAX_COMMIT_BYTES = 1024 * 1024 * 1024
#: Most operations in one commit: far above what the client batches, low enough that the
#: list of operations stays small in memory.
MAX_OPERATIONS = 50_000
#: Longest path (bytes) and path segment (bytes) accepted in a commit.
MAX_PATH_BYTES = 4096
MAX_SEGMENT_BYTES = 255
#: Most commit attempts when the branch moves under a commit that named no parent.
MAX_ATTEMPTS = 3
#: Largest preupload request: 256 files with 512-byte samples fit many times over.
MAX_PREUPLOAD_FILES = 1000

#: HTTP status of a refusal, by the check that refused: rights are 403, a full space 507 (as
#: the LFS batch API answers), anything about the content (card, secrets, pickles) 422.
STATUS_BY_CHECK = {"check_pusher": 403, "check_ref_rules": 403, "check_quota": 507}
CONTENT_STATUS = 422


class HubError(ModelgitError):
    """A refusal of the hub API with its status chosen per refusal (a refused commit's
    message has several lines: git's ``remote:`` lines)."""

    def __init__(self, status: int, message: str | list[str], code: str | None = None) -> None:
        super().__init__(message, status=status, code=code)


def setting(cfg: Config, dotted: str, default: Any) -> Any:
    """A hub setting with its default: the keys are optional in ``config.yaml``."""
    try:
        value = cfg.get(dotted)
    except (KeyError, TypeError):
        return default
    return default if value is None else value


def lfs_threshold(cfg: Config) -> int:
    return int(setting(cfg, "hub.lfs_threshold_bytes", DEFAULT_LFS_THRESHOLD))
