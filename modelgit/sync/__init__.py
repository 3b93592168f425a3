"""Model sync: replicate a branch, tag or commit with its LFS objects to another region.

A *region* is another modelgit site in ``config.yaml`` (``regions: {name: {url, key_file}}``).
A task asks the target whether its key may push, sends the LFS objects it lacks, then pushes
the commit, so nobody there can clone a pointer whose object is missing. The region key lives
only in memory and git's environment: never in the database, a log, a message or a command
line. This package's face is below; each submodule has one job.
"""

from modelgit.sync.attempt import new_worker_token, run_claimed, run_task
from modelgit.sync.failure import SyncFailure
from modelgit.sync.gitpush import git_env
from modelgit.sync.manage import create_task, list_tasks, replicas, retry_task, task_view
from modelgit.sync.plan import resolve
from modelgit.sync.regions import Region, get_region, read_key, region_names

__all__ = [
    "Region",
    "SyncFailure",
    "create_task",
    "get_region",
    "git_env",
    "list_tasks",
    "new_worker_token",
    "read_key",
    "region_names",
    "replicas",
    "resolve",
    "retry_task",
    "run_claimed",
    "run_task",
    "task_view",
]
