"""The database of a data folder: every SQL statement modelgit runs lives in this package.

``Store`` is the one interface (a later PostgreSQL store implements the same methods); it is
composed of one mixin per table group, so the SQL of a table is found in its module:
``connection`` (opening, transactions), ``migrations`` (the schema), ``users`` (users, keys),
``models`` (spaces, models, roles), ``lfs``, ``requests`` (access requests), ``scans``,
``audit`` (audit log, failed authentications), ``tasks`` (task queue, sync replicas),
``redirects`` (renaming a model, the old names that redirect), ``sessions`` (sign-ins of
the web pages) and ``xet`` (xorbs and file reconstructions).
"""

from __future__ import annotations

from modelgit.store.audit import Audit
from modelgit.store.connection import (
    BUSY_TIMEOUT_MS,
    SchemaTooNew,
    StoreError,
    StoreUnavailable,
    now_iso,
)
from modelgit.store.lfs import Lfs
from modelgit.store.migrations import MIGRATION_SET, MIGRATIONS, Schema
from modelgit.store.models import Models
from modelgit.store.redirects import Redirects
from modelgit.store.requests import AccessRequests
from modelgit.store.scans import Scans
from modelgit.store.sessions import Sessions
from modelgit.store.tasks import Tasks
from modelgit.store.users import Users
from modelgit.store.xet import Xet

__all__ = ["BUSY_TIMEOUT_MS", "MIGRATIONS", "MIGRATION_SET", "SchemaTooNew", "Store",
           "StoreError", "StoreUnavailable", "now_iso"]


class Store(Schema, Users, Models, Lfs, AccessRequests, Scans, Audit, Tasks, Redirects,
            Sessions, Xet):
    """The database of one data folder.

    Cheap to construct; the connection is opened lazily per thread. ``check_schema`` refuses
    a database that is behind or newer; ``migrate()`` brings it up to date.
    """
