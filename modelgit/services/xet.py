"""The Xet CAS of a site: tokens, verified xorb and shard uploads, reconstructions.

One object world: a shard registers a file only after every chunk of it was read back from
xorbs this model uploaded, the file's Xet hash recomputed from those chunks, and the bytes
stored as an ordinary LFS object under their sha256 and linked to the model, exactly as an LFS
upload would be. When the commit naming that sha256 arrives, the hub commit path, the push
checks (pickle allowlist, secrets, quotas), git-lfs and every scan see a normal LFS object.
Xorbs themselves are stored through the same object storage, under the sha256 of their bytes.

A token is checked again on every use: its user must still exist, its key be live, and
``decide()`` still allow the right it was issued for.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from modelgit.authz import keys
from modelgit.authz.decide import Subject
from modelgit.errors import Forbidden, Invalid, NotFound, TooLarge, Unauthorized
from modelgit.lfs.storage import ByteSource, ObjectStorage, storage_for
from modelgit.lfs.tokens import load_or_create_secret
from modelgit.services import access
from modelgit.xet import hashes, shard, tokens, xorb

if TYPE_CHECKING:
    from collections.abc import Callable

    from modelgit.config import Config
    from modelgit.store import Store

log = logging.getLogger("modelgit.xet")

#: How long an access token lives; the client asks for a new one before it runs out.
TOKEN_SECONDS = 3600
#: How long an upload grant or a xorb fetch link lives.
LINK_SECONDS = 900
RIGHTS = {"read": "read", "write": "write"}
#: How many more xorbs a dedupe answer lists: those of the model's files that use the xorb
#: holding the chunk (up to ~2 GiB of chunks). The client asks about a file's first chunk and
#: about one chunk in 1,024 only, so a 64 MiB xorb none of whose chunks it asks about (about
#: one in three) would otherwise be uploaded again by a machine without the client's cache.
DEDUPE_NEIGHBOURS = 31
_ANONYMOUS = Subject(user=None, is_admin=False, scope="read")


def secret(cfg: Config) -> bytes:
    """The site's Xet token secret, kept in the data folder (made on first use)."""
    return load_or_create_secret(cfg.lfs_dir / "xet.secret")


@dataclass(frozen=True)
class Access:
    """A checked token: the model and right it grants, and to whom."""

    model: str
    right: str
    user: str
    key_id: str


def issue(cfg: Config, model_id: str, right: str, user: str, key_id: str) -> tuple[str, int]:
    """An access token for a caller ``decide()`` already allowed ``right`` on the model."""
    expires = int(time.time()) + TOKEN_SECONDS
    claims = tokens.Claims(model_id, right, user, key_id, expires)
    return tokens.make(secret(cfg), claims), expires


def link(cfg: Config, grant: Access, purpose: str) -> str:
    """A short-lived token for one grant or fetch link, carrying the access it came from."""
    claims = tokens.Claims(grant.model, purpose, grant.user, grant.key_id,
                           int(time.time()) + LINK_SECONDS)
    return tokens.make(secret(cfg), claims)


def check(cfg: Config, store: Store, token: str | None, *, need: str | None = None,
          purpose: str | None = None) -> Access:
    """The access a token grants now, or a refusal.

    ``need`` is the right the route needs (a write token also reads); ``purpose`` the exact
    purpose of a grant or fetch link. The user, key and right are checked again here.
    """
    claims = tokens.check(secret(cfg), token or "", now=int(time.time()))
    if claims is None:
        raise Unauthorized("the Xet token is missing, expired or not valid for this server;"
                           " the client asks for a new one from the xet-read-token or"
                           " xet-write-token endpoint")
    if purpose is not None and claims.purpose != purpose:
        raise Forbidden("this link is for another object or operation")
    right = claims.purpose if claims.purpose in RIGHTS else claims.purpose.split(":", 1)[0]
    if need is not None and not (right == need or (need == "read" and right == "write")):
        raise Forbidden(f"this Xet token allows {right} access, and this needs {need}: ask"
                        f" for a xet-{need}-token (which needs the {need} right on the model)")
    subject = _ANONYMOUS
    if claims.user:
        found = access.subject_for(store, claims.user)
        if found is None:
            raise Unauthorized("the user of this Xet token is gone")
        from modelgit.store import now_iso

        key = store.get_key(claims.key_id) if claims.key_id else None
        if key is None or key["user"] != claims.user or not keys.is_live(key, now_iso()):
            raise Unauthorized("the key this Xet token was issued for has been revoked or has"
                               " expired; use a current key")
        subject = Subject(found.user, found.is_admin, str(key["scope"]))
    action = "write" if right == "write" else "read"
    decision, _ = access.check_model(store, subject, claims.model, action,
                                     allow_anonymous_read=bool(cfg.get("allow_anonymous_read")))
    if not decision.allowed:
        raise access.refusal(decision)
    return Access(claims.model, right, claims.user, claims.key_id)


def check_link(cfg: Config, store: Store, link: str, kind: str) -> tuple[Access, str]:
    """The access of a signed ``grant`` or ``fetch`` link and the xorb it is for."""
    claims = tokens.check(secret(cfg), link, now=int(time.time()))
    if claims is None or not claims.purpose.startswith(kind + ":"):
        raise Forbidden(f"this {kind} link has expired or is not valid; the client asks for a"
                        " new one")
    return check(cfg, store, link, purpose=claims.purpose), claims.purpose.split(":", 1)[1]


# -- xorbs ------------------------------------------------------------------------------
def parse_hash(text: str) -> bytes:
    raw = hashes.from_hex(text)
    if raw is None:
        raise Invalid(f"{text[:80]!r} is not a Xet hash (64 lowercase hex digits)")
    return raw


def has_xorb(store: Store, model_id: str, xorb_hex: str) -> bool:
    """Whether this model uploaded the xorb (only then may it skip uploading it again)."""
    return store.model_has_xorb(model_id, xorb_hex) and store.get_xorb(xorb_hex) is not None


def put_xorb(cfg: Config, store: Store, model_id: str, xorb_hex: str,
             body: bytes | memoryview, user: str = "") -> bool:
    """Verify a xorb (format, every chunk, the merkle hash against the URL's) and store it;
    True if it was new to the site. ``body`` may be a view of a buffer the caller reuses:
    nothing here keeps a reference to it."""
    expected = parse_hash(xorb_hex)
    _check_headroom(cfg, store, model_id, xorb_hex, len(body))
    try:
        parsed = xorb.parse(body, expected)
    except xorb.XorbError as err:
        raise Invalid(f"xorb {xorb_hex} refused: {err}; nothing was stored") from None
    # hf_xet sends xorbs without the footer its own format defines; the server adds it (from
    # the chunk hashes it has just computed), so a reconstruction reads a xorb's 40 KB
    # footer instead of its 64 MB, and a shard's files are rebuilt without hashing every
    # chunk again. Where the footer begins is recorded: only the server's parse says so.
    tail = b"" if parsed.content_end < len(body) else xorb.footer_of(parsed)
    size = len(body) + len(tail)
    # Named by the storage from the sha256 of the bytes it writes: hashed once, written once.
    with storage_for(cfg).writer(size) as out:
        out.write(body)
        if tail:
            out.write(tail)
        oid = out.commit()
    new = store.add_xorb(model_id, xorb_hex, oid, size, parsed.unpacked_size,
                         len(parsed.chunks), parsed.content_end)
    store.add_dedupe_chunks(xorb_hex, [hashes.to_hex(c.hash) for c in parsed.chunks
                                       if shard.dedup_eligible(c.hash)])
    if user:
        store.note_uploader(user, xorb_hex)
    log.info("xet xorb %s %s %d bytes (%s) by %s", model_id, xorb_hex, len(body),
             "new" if new else "known", user or "-")
    return new


def _check_headroom(cfg: Config, store: Store, model_id: str, xorb_hex: str, size: int) -> None:
    """A xorb new to the model counts in its space's quota (docs/xet.md, "Quotas"): refused
    before it is verified or stored when the space has no room left for it."""
    from modelgit.quota import lfs_headroom

    if store.model_has_xorb(model_id, xorb_hex):
        return
    model = store.get_model(model_id)
    if model is None:
        raise NotFound(f"model {model_id} not found")
    left, message = lfs_headroom(cfg, store, model["space"])
    if left is not None and size > left:
        # hf_xet shows the status only: the reason goes to the server log too.
        log.warning("xet xorb %s for %s refused: %s", xorb_hex, model_id, message)
        raise TooLarge(f"xorb {xorb_hex} refused: {message}; nothing was stored")


def _xorb_row(store: Store, xorb_hex: str) -> dict[str, Any]:
    """The store's record of a xorb (its object, size and footer), or NotFound."""
    row = store.get_xorb(xorb_hex)
    if row is None:
        raise NotFound(f"xorb {xorb_hex} is not stored here")
    return row


def _load_xorb(storage: ObjectStorage, row: dict[str, Any], *, hashed: bool = False,
               into: bytearray | None = None) -> tuple[xorb.Buffer, xorb.Xorb]:
    """A stored xorb's bytes and layout (``xorb.index``: headers, and the chunk hashes of its
    footer); ``hashed`` makes sure the chunk hashes are there (the dedupe answer lists them)
    by hashing the chunks of a xorb stored without footer.

    ``into``, when large enough, receives the bytes (the result is then a view of it, valid
    until the next load into it): a shard's files read xorb after xorb, and a fresh 64 MiB
    buffer each time cost more (page faults on new memory, then a copy) than hashing it.
    """
    size = int(row["size"])
    with storage.open(row["oid"]) as fh:
        if into is None or len(into) < size:
            data: xorb.Buffer = fh.read()
        else:
            # Files and the S3 reader have readinto, which typing's BinaryIO does not name.
            data = _read_into(cast(ByteSource, fh), memoryview(into)[:size])
    layout = xorb.index(data)
    if hashed and not layout.hashed:
        layout = xorb.parse(data)
    return data, layout


def _layout(storage: ObjectStorage, row: dict[str, Any], *, hashed: bool = True
            ) -> xorb.Xorb:
    """A stored xorb's layout (a reconstruction; with ``hashed``, its chunk hashes too, for a
    dedupe answer): from its footer alone where the upload recorded where that begins
    (``xorb.from_footer``), else from the whole xorb (``_load_xorb``)."""
    footer_at = row.get("footer_at")
    if footer_at is not None:
        footer_at = int(footer_at)
        with storage.open(row["oid"]) as fh:
            fh.seek(footer_at)
            tail = fh.read(int(row["size"]) - footer_at)
        try:
            return xorb.from_footer(tail, footer_at)
        except xorb.XorbError as err:  # the stored bytes changed: read it all, which says how
            log.error("xet xorb %s: %s", row["hash"], err)
    return _load_xorb(storage, row, hashed=hashed)[1]


def _read_into(fh: ByteSource, view: memoryview) -> memoryview:
    """Fill ``view`` from ``fh``; a stored object shorter than its record is a server fault."""
    filled = 0
    while filled < len(view):
        count = fh.readinto(view[filled:])
        if not count:
            raise RuntimeError("a stored xorb is shorter than recorded")
        filled += count
    return view


# -- shards -----------------------------------------------------------------------------
def check_shard(cfg: Config, store: Store, model_id: str, body: bytes, user: str = "") -> int:
    """What :func:`put_shard` refuses before it reads a byte of a xorb (a malformed shard, a
    model that is gone, a xorb the model may not use), as the same errors; else the number
    of files. The V2 upload asks this first, so those refusals are plain error statuses
    rather than frames of its progress stream. ``put_shard`` checks them all again."""
    try:
        parsed = shard.parse(body)
    except shard.ShardError as err:
        raise Invalid(f"shard refused: {err}; nothing was registered") from None
    if store.get_model(model_id) is None:
        raise NotFound(f"model {model_id} not found")
    readable = _readable_elsewhere(cfg, store, user)
    for info in parsed.files:
        _file_terms(store, model_id, info, readable)
    return len(parsed.files)


def put_shard(cfg: Config, store: Store, model_id: str, body: bytes, user: str = "", *,
              progress: Callable[[int, int], None] | None = None) -> int:
    """Verify a shard and register its files for the model; the number of files.

    Each file is rebuilt from xorbs the model uploaded, its Xet hash checked, and its bytes
    stored as an LFS object of the model (sha256 computed here, never taken from the client).
    ``progress(done, total)`` is told after each file (the V2 upload streams it).
    """
    try:
        parsed = shard.parse(body)
    except shard.ShardError as err:
        raise Invalid(f"shard refused: {err}; nothing was registered") from None
    storage = storage_for(cfg)
    model = store.get_model(model_id)
    if model is None:
        raise NotFound(f"model {model_id} not found")
    cache = _XorbCache(storage, store)
    readable = _readable_elsewhere(cfg, store, user)
    for done, info in enumerate(parsed.files, 1):
        _register_file(cfg, store, storage, model, info, cache, readable)
        if progress is not None:
            progress(done, len(parsed.files))
    log.info("xet shard %s %d bytes: %d files registered by %s", model_id, len(body),
             len(parsed.files), user or "-")
    return len(parsed.files)


def _readable_elsewhere(cfg: Config, store: Store, user: str) -> Callable[[str], bool]:
    """Whether ``user`` uploaded a stored xorb, or may read some model that holds it.

    hf_xet remembers the xorbs it uploaded and does not send them again, whichever model the
    next file goes to; such a xorb may join this model when its uploader had those bytes or
    could download them anyway. Any other xorb stays refused (its hash is no key).
    """
    subject = access.subject_for(store, user) if user else None
    allow_anon = bool(cfg.get("allow_anonymous_read"))
    answers: dict[str, bool] = {}

    def readable(xorb_hex: str) -> bool:
        if subject is None or store.get_xorb(xorb_hex) is None:
            return False
        if xorb_hex not in answers:
            answers[xorb_hex] = store.uploaded_by(user, xorb_hex) or any(
                access.check_model(store, subject, other, "read",
                                   allow_anonymous_read=allow_anon)[0].allowed
                for other in store.models_with_xorb(xorb_hex))
        return answers[xorb_hex]

    return readable


def _file_terms(store: Store, model_id: str, info: shard.FileInfo,
                readable: Callable[[str], bool]) -> tuple[list[tuple[str, int, int, int]],
                                                          set[str]]:
    """A shard file's terms (xorb, first chunk, end chunk, bytes) and the xorbs it borrows
    from other models; Forbidden when one is neither the model's nor ``readable``."""
    terms: list[tuple[str, int, int, int]] = []
    borrowed: set[str] = set()
    for seg in info.segments:
        xhex = hashes.to_hex(seg.xorb)
        if not has_xorb(store, model_id, xhex):
            if not readable(xhex):
                raise Forbidden(f"shard refused: file {hashes.to_hex(info.hash)} uses xorb"
                                f" {xhex}, which this model has not uploaded; upload the xorb"
                                " first")
            borrowed.add(xhex)
        terms.append((xhex, seg.start, seg.end, seg.size))
    return terms, borrowed


def _register_file(cfg: Config, store: Store, storage: ObjectStorage, model: dict[str, Any],
                   info: shard.FileInfo, cache: _XorbCache,
                   readable: Callable[[str], bool]) -> None:
    model_id = model["id"]
    file_hex = hashes.to_hex(info.hash)
    terms, borrowed = _file_terms(store, model_id, info, readable)
    first = info.segments[0]
    data, first_xorb = cache.get(terms[0][0])
    if first.start < len(first_xorb.chunks):
        head = first_xorb.chunks[first.start]
        head_hash = head.hash or hashes.chunk_hash(xorb.read_chunk(data, head.start)[0])
        store.add_dedupe_chunks(terms[0][0], [hashes.to_hex(head_hash)])
    known = store.get_file(model_id, file_hex)
    if known is not None and storage.exists(known["sha256"]):
        store.link_object(model_id, known["sha256"], int(known["size"]))
        return
    size = info.size
    from modelgit.quota import lfs_headroom

    left, message = lfs_headroom(cfg, store, model["space"])
    if left is not None and size > left:
        raise TooLarge(message)
    entries: list[tuple[bytes, int]] = []
    # The file is written once, straight into the storage, which names it by the sha256 of
    # what it wrote; it is committed (stored) only once its Xet hash checked out, and a
    # refused file leaves nothing behind.
    with storage.writer(size) as out:
        for xhex, start, end, seg_size in terms:
            data, parsed = cache.get(xhex)
            if end > len(parsed.chunks):
                raise Invalid(f"shard refused: file {file_hex} names chunks {start}..{end} of"
                              f" xorb {xhex}, which has {len(parsed.chunks)}")
            got = 0
            for chunk in parsed.chunks[start:end]:
                raw, _ = xorb.read_chunk(data, chunk.start)
                got += len(raw)
                if got > seg_size:
                    break
                out.write(raw)
                # The footer's hash was checked against these very bytes at upload.
                entries.append((chunk.hash or hashes.chunk_hash(raw), len(raw)))
            if got != seg_size:
                raise Invalid(f"shard refused: a term of file {file_hex} says {seg_size} bytes"
                              f" but its chunks hold {'more' if got > seg_size else got}")
        if hashes.file_hash(entries) != info.hash:
            raise Invalid(f"shard refused: the chunks of file {file_hex} do not hash to it")
        sha = out.commit()
    # Only a file that verified links the xorbs it borrowed from another model.
    for xhex in sorted(borrowed):
        store.link_xorb(model_id, xhex)
    store.link_object(model_id, sha, size)
    store.add_file(model_id, file_hex, sha, size, terms)


class _XorbCache:
    """The stored xorbs a shard's files are read from: one in memory at a time (files are
    mostly in order), always read into the same buffer (see ``_load_xorb``)."""

    def __init__(self, storage: ObjectStorage, store: Store) -> None:
        self._storage = storage
        self._store = store
        self._buffer = bytearray()
        self._hex = ""
        self._loaded: tuple[xorb.Buffer, xorb.Xorb] | None = None

    def get(self, xorb_hex: str) -> tuple[xorb.Buffer, xorb.Xorb]:
        if self._loaded is None or xorb_hex != self._hex:
            self._loaded = None  # its view of the buffer is about to be overwritten
            row = _xorb_row(self._store, xorb_hex)
            if len(self._buffer) < int(row["size"]):
                self._buffer = bytearray(int(row["size"]))
            self._loaded = _load_xorb(self._storage, row, into=self._buffer)
            self._hex = xorb_hex
        return self._loaded


def dedupe_shard(cfg: Config, store: Store, model_id: str, chunk_hex: str) -> bytes | None:
    """The dedupe query's answer: a shard listing a xorb of this model that holds the chunk
    and the other xorbs of the files using it, so the client references their chunks instead
    of uploading them again; None if no xorb of the model holds the chunk.
    Only the model's own xorbs are offered: a chunk hash proves nothing about access."""
    parse_hash(chunk_hex)
    xhex = store.dedupe_xorb(model_id, chunk_hex)
    if xhex is None or store.get_xorb(xhex) is None:
        return None
    storage = storage_for(cfg)
    listed: list[tuple[bytes, list[tuple[bytes, int]], int]] = []
    for other in [xhex, *store.xorbs_beside(model_id, xhex, DEDUPE_NEIGHBOURS)]:
        row = store.get_xorb(other)
        if row is None or not store.model_has_xorb(model_id, other):
            continue
        parsed = _layout(storage, row)
        listed.append((parse_hash(other), [(c.hash, c.size) for c in parsed.chunks],
                       int(row["size"])))
    return shard.serialize_xorbs(listed, int(time.time()))


# -- downloads --------------------------------------------------------------------------
def reconstruction(cfg: Config, store: Store, grant: Access, file_hex: str,
                   byte_range: tuple[int, int] | None, fetch_url: str) -> dict[str, Any]:
    """The V1 reconstruction of a file registered for the model: its terms (chunk ranges of
    xorbs) covering ``byte_range`` (inclusive end), and where to fetch each xorb range.

    ``fetch_url`` is the URL prefix of the xorb fetch route; each link is signed.
    """
    parse_hash(file_hex)
    row = store.get_file(grant.model, file_hex)
    if row is None:
        raise NotFound(f"file {file_hex} is not known to model {grant.model}")
    size = int(row["size"])
    first, last = (0, size - 1) if byte_range is None else byte_range
    if size == 0 or first >= size:
        raise Invalid(f"range start {first} is past the end of the file ({size} bytes)")
    last = min(last, size - 1)
    storage = storage_for(cfg)
    out_terms: list[dict[str, Any]] = []
    fetch: dict[str, list[dict[str, Any]]] = {}
    offset_into_first = 0
    pos = 0
    for term in store.file_terms(grant.model, file_hex):
        xhex = term["xorb"]
        term_end = pos + int(term["size"])
        if term_end <= first or pos > last:
            pos = term_end
            continue
        parsed = _layout(storage, _xorb_row(store, xhex), hashed=False)
        chunks = parsed.chunks[term["chunk_start"]:term["chunk_end"]]
        # Trim whole chunks outside the range.
        cpos = pos
        lo, hi = 0, len(chunks)
        while lo < hi and cpos + chunks[lo].size <= first:
            cpos += chunks[lo].size
            lo += 1
        if not out_terms:
            offset_into_first = first - cpos
        end_pos = cpos
        k = lo
        while k < hi and end_pos <= last:
            end_pos += chunks[k].size
            k += 1
        start_idx = term["chunk_start"] + lo
        end_idx = term["chunk_start"] + k
        out_terms.append({"hash": xhex, "unpacked_length": end_pos - cpos,
                          "range": {"start": start_idx, "end": end_idx}})
        url = f"{fetch_url}/{xhex}?t={link(cfg, grant, 'fetch:' + xhex)}"
        fetch.setdefault(xhex, []).append({
            "range": {"start": start_idx, "end": end_idx},
            "url": url,
            "url_range": {"start": parsed.chunks[start_idx].start,
                          "end": parsed.chunks[end_idx - 1].end - 1},
        })
        pos = term_end
    return {"offset_into_first_range": offset_into_first, "terms": out_terms,
            "fetch_info": fetch}


def as_v2(answer: dict[str, Any]) -> dict[str, Any]:
    """A V1 reconstruction in the V2 shape (``xorbs``: per xorb, fetch entries of a URL and
    its ranges), one range per entry, as xet-core converts V1 answers itself."""
    xorbs = {xhex: [{"url": f["url"], "ranges": [{"chunks": f["range"],
                                                   "bytes": f["url_range"]}]}
                    for f in fetches]
             for xhex, fetches in answer["fetch_info"].items()}
    return {"offset_into_first_range": answer["offset_into_first_range"],
            "terms": answer["terms"], "xorbs": xorbs}


def open_xorb(cfg: Config, store: Store, grant: Access, xorb_hex: str) -> tuple[Any, int]:
    """An open handle on a stored xorb the model uses, and its size."""
    if not store.model_has_xorb(grant.model, xorb_hex):
        raise NotFound(f"xorb {xorb_hex} is not used by model {grant.model}")
    row = store.get_xorb(xorb_hex)
    if row is None:
        raise NotFound(f"xorb {xorb_hex} is not stored here")
    return storage_for(cfg).open(row["oid"]), int(row["size"])


def file_for_sha256(store: Store, model_id: str, sha256: str) -> dict[str, Any] | None:
    """The Xet reconstruction registered for an LFS object of the model, if any."""
    return store.file_by_sha256(model_id, sha256)


def xet_hashes(store: Store, model_id: str, sha256s: list[str]) -> dict[str, str]:
    """The Xet hashes of the model's LFS objects that have a reconstruction: the tree listing
    carries them, so ``snapshot_download`` can go straight to Xet without a ``HEAD`` per file."""
    return store.xet_hashes(model_id, sha256s) if sha256s else {}
