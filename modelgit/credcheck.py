"""``modelgit credential-check``: the check Apache runs, through mod_authnz_external, on every
git request of an existing host (docs/architecture.md).

Apache starts this program for every request, so starting fast is the whole game
(bench/README.md: < 50 ms), and on this kind of machine every module imported counts. So
the check runs warm: when ``--socket`` names ``modelgit serve``'s unix socket (install.sh
writes it so), the helper imports nothing but built-in modules, forwards the question to the
server's ``/-/auth`` (the same ``decide()``, with everything loaded) and exits with its
answer. Only when the server cannot be reached does it decide in-process (cold), with the
same functions; the modules on that path import only what it runs (no ``site`` without a
config.yaml, no typing, dataclasses, logging or json). ``modelgit.cli.main.main`` hands it
the command line before click is imported.

The protocol is mod_authnz_external's ``pipe`` method: line 1 is the user name; line 2 is the
key (``AUTHTYPE=PASS``, an authentication provider) or the required group names
(``AUTHTYPE=GROUP``, ``Require external-group read|write``). The program starts with a fresh
environment that carries ``URI`` (the decoded request path, without the query string),
``CONTEXT`` (``AuthExternalContext``) and ``IP`` (the client); exit status 0 allows.

Two ways to use it:

* alone, as the authentication provider (``Require valid-user``): the key is checked and then
  ``decide()`` answers for the model and action. Every refusal becomes a 401 in Apache, so git
  forgets the stored key even when it was right; simple, but rough for people.
* split, as install.sh writes it: ``--key-only`` on the provider (a wrong key is a 401, as it
  should be) and the group check (``Require external-group read|write`` with
  ``AuthzSendForbiddenOnFailure On``) runs ``decide()``, so a known user without the right
  gets a 403 and keeps their stored key.

The query string never reaches the program, so the configuration tells it that
``info/refs?service=git-receive-pack`` is a write: ``AuthExternalContext write`` and the group
``write``. A request for ``git-receive-pack`` itself is a write whatever the configuration
says, so a configuration mistake can only cost a clear message, never a push.
"""

from __future__ import annotations

import os
import sys

from modelgit.git.targets import git_target, normalise_prefix

TYPE_CHECKING = False  # typing itself is a measurable import here
if TYPE_CHECKING:
    from collections.abc import Mapping

# Exit statuses: mod_authnz_external writes them to Apache's error log, so each says why.
OK = 0
DENIED = 1          # decide() said no (no role, private, gated, ...), or braked
USAGE = 2           # bad command line or stdin
BAD_KEY = 3         # wrong, expired or revoked key, or a user name that is not the key's
NOT_GIT_PATH = 4    # the URI is not /<prefix>/<space>/<model>.git/<smart HTTP service>
READ_ONLY_KEY = 5   # a read key on a write request (--key-only)
ERROR = 6           # the database is missing or unreadable, or another internal error
BRAKED = 7          # too many failed sign-ins from this address (the server's brake)

PROG = "modelgit credential-check"
SERVER_TIMEOUT = 10.0
_PRINTABLE = frozenset(chr(c) for c in range(0x21, 0x7F))
_USER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")


class Options:
    """The helper's command line."""

    __slots__ = ("data_dir", "git_prefix", "key_only", "socket")

    def __init__(self, data_dir: str | None = None, git_prefix: str = "",
                 key_only: bool = False, socket: str | None = None) -> None:
        self.data_dir = data_dir
        self.git_prefix = git_prefix
        self.key_only = key_only
        self.socket = socket


def parse_argv(argv: list[str]) -> Options | None:
    """``[--data DIR] credential-check [--git-prefix P] [--socket PATH] [--key-only]``.

    None for anything else (``--help``, unknown options, other commands): the caller then
    lets click parse the command line and print its usual usage errors.
    """
    values: dict[str, str] = {}
    key_only = False
    seen_command = False
    args = list(argv)
    while args:
        arg = args.pop(0)
        name, eq, value = arg.partition("=")
        if arg == "credential-check" and not seen_command:
            seen_command = True
        elif name in ("--data", "--git-prefix", "--socket") and (eq or args):
            if not eq:
                value = args.pop(0)
            if name != "--data" and not seen_command:
                return None
            values[name] = value
        elif arg == "--key-only" and seen_command:
            key_only = True
        else:
            return None
    if not seen_command:
        return None
    return Options(data_dir=values.get("--data"), git_prefix=values.get("--git-prefix", ""),
                   key_only=key_only, socket=values.get("--socket") or None)


def _say(message: str) -> None:
    """One line to stderr, which Apache puts in its error log. Never the key."""
    sys.stderr.write(f"{PROG}: {message}\n")
    sys.stderr.flush()


class Question:
    """What Apache asks, read from stdin and the environment."""

    __slots__ = ("address", "group_step", "second", "uri", "user", "write")

    def __init__(self, user: str, second: str, uri: str, group_step: bool, write: bool,
                 address: str) -> None:
        self.user = user
        self.second = second      # the key, or the group names
        self.uri = uri
        self.group_step = group_step
        self.write = write        # the configuration or the group says this is a push
        self.address = address

    def where(self, model: str = "") -> str:
        action = "write" if self.write else "access"
        return f"{action} {model or self.uri} as {self.user or '(no user)'}"


def check(opts: Options, stdin: str, env: Mapping[str, str]) -> tuple[int, str]:
    """(exit status, reason for the log). Any exception denies."""
    try:
        lines = stdin.split("\n")
        if len(lines) < 2:
            return USAGE, "expected the user name and the key (or groups) on two lines"
        group_step = env.get("AUTHTYPE", "PASS") == "GROUP"
        second = lines[1].rstrip("\r")
        write = env.get("CONTEXT", "").strip() == "write"
        if group_step:
            groups = second.split()
            unknown = [g for g in groups if g not in ("read", "write")]
            if not groups or unknown:
                return USAGE, (f"unknown group(s) {' '.join(unknown) or '(none)'}:"
                               " use read or write")
            write = write or "write" in groups
        q = Question(lines[0].rstrip("\r"), second, env.get("URI", ""), group_step, write,
                     env.get("IP", ""))
        # Everything goes into an HTTP request or the log: one clean token each, or nothing.
        if not q.uri or not set(q.uri) <= _PRINTABLE:
            return NOT_GIT_PATH, "the URI is empty or has spaces or control characters"
        if q.user.startswith("mg_") and not group_step and second in ("", "x-oauth-basic"):
            # https://KEY@host: modelgit serve accepts it, Apache cannot (it would hand the
            # key to git as REMOTE_USER and write it to its access log as the user).
            return BAD_KEY, ("a key was sent as the user name: on this host give your user"
                             " name, with the key as the password")
        if not q.user or not set(q.user) <= _USER_CHARS:
            return BAD_KEY, "the user name is missing or not a modelgit user name"
        if not group_step and (not second or not set(second) <= _PRINTABLE):
            return BAD_KEY, f"{q.where()}: the key has spaces or control characters"
        if not set(q.address) <= _PRINTABLE:
            q.address = ""
        if opts.socket:
            warm = ask_server(opts, q)
            if warm is not None:
                return warm
        return _cold(opts, q)
    except Exception as exc:  # fail closed: a bug or a locked database must never allow
        from modelgit.store.connection import StoreUnavailable  # loaded already if it was

        if isinstance(exc, StoreUnavailable):
            # PostgreSQL is down: denied (mod_authnz_external knows no other refusal; the
            # 401's ErrorDocument asks modelgit serve, whose answer git gets: the 503), and
            # Apache's log says why rather than "internal error".
            return ERROR, f"refused: the database is unavailable ({exc.detail}); try again later"
        return ERROR, f"internal error: {type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------- warm
def ask_server(opts: Options, q: Question) -> tuple[int, str] | None:
    """The running server's answer, or None when it cannot be asked (then decide cold).

    Built-in modules only (``_socket``, ``binascii``): the point is to skip the imports.
    """
    import _socket
    import binascii

    socket_path = opts.socket
    if not socket_path:
        return None  # no server named: decide cold (connect(None) would raise TypeError)
    original = q.uri
    if q.write and original.endswith("/info/refs"):
        original += "?service=git-receive-pack"
    posts = original.endswith(("/git-upload-pack", "/git-receive-pack"))
    headers = [("X-Original-URI", original), ("X-Original-Method", "POST" if posts else "GET"),
               ("X-Modelgit-Git-Prefix", normalise_prefix(opts.git_prefix) or "/")]
    if q.group_step:
        headers += [("X-Modelgit-Check", "user"), ("X-Modelgit-User", q.user)]
    else:
        token = binascii.b2a_base64(f"{q.user}:{q.second}".encode(), newline=False).decode()
        headers += [("X-Modelgit-Check", "key" if opts.key_only else "access"),
                    ("X-Modelgit-Authorization", f"Basic {token}"),
                    ("X-Modelgit-Client-Address", q.address or "-")]
    request = "GET /-/auth HTTP/1.0\r\nHost: localhost\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(SERVER_TIMEOUT)
        try:
            sock.connect(socket_path)
        except OSError:
            return None
        sock.sendall(request.encode("ascii"))
        answer = b""
        while b"\r\n\r\n" not in answer and len(answer) < 16384:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    except OSError:
        return None
    finally:
        sock.close()
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = head[0].split(" ")[1] if head and head[0].startswith("HTTP/") and \
        len(head[0].split(" ")) > 1 else ""
    reason = next((line.split(":", 1)[1].strip() for line in head[1:]
                   if line.lower().startswith("x-modelgit-reason:")), "")
    where = q.where()
    if status == "200":
        return OK, f"{where}: allowed (modelgit serve)"
    if status == "401":
        return BAD_KEY, f"{where}: wrong, expired or revoked key (modelgit serve)"
    if status == "403":
        code = READ_ONLY_KEY if "read-only" in reason and opts.key_only else DENIED
        return code, f"{where}: {reason or 'refused'} (modelgit serve)"
    return None  # an older server without /-/auth, or its error: decide here instead


# --------------------------------------------------------------------------- cold
def _cold(opts: Options, q: Question) -> tuple[int, str]:
    """The same decision in this process, when the server is not there to ask."""
    from modelgit.config import Config, load, resolve_data_dir
    from modelgit.store import Store

    target = git_target(q.uri, "", opts.git_prefix)
    if target is None:
        return NOT_GIT_PATH, (f"{q.uri!r} is not a model's git address under"
                              f" {normalise_prefix(opts.git_prefix) or '/'}")
    action = "write" if q.write else target.action
    where = f"{action} {target.model_id} as {q.user}"
    cfg = Config(data_dir=resolve_data_dir(opts.data_dir))
    if sys.flags.no_site and (cfg.data_dir / "config.yaml").is_file():
        # Started by the launcher (-S): reading config.yaml needs yaml, which sits beside
        # modelgit in an installed site-packages (on the path already) and only an editable
        # install must look for through site (its .pth files are dear to start). Without the
        # file nothing here needs site-packages.
        try:
            import yaml  # noqa: F401
        except ImportError:
            import site

            site.main()
    if (cfg.data_dir / "config.yaml").is_file():
        cfg = load(opts.data_dir)  # its settings: the brake's, and the database's address
    if not cfg.uses_postgres and not cfg.db_path.is_file():
        return ERROR, (f"no modelgit database at {cfg.db_path}; give the data folder with"
                       " --data DIR before credential-check")
    store = Store(cfg.store_target)

    from modelgit.services import access

    if q.group_step:
        # Apache authenticated the user with the key already (the provider step, which also
        # refused a read-only key on a write), so the group step decides for the user.
        subject = access.subject_for(store, q.user)
        if subject is None:
            return DENIED, f"{where}: unknown user"
    else:
        from modelgit.authz.brake import Brake

        # The server's brake (the same settings and store table), so that guessing keys
        # through Apache is braked as through modelgit serve. Apache cannot answer 429: a
        # braked request gets the challenge again.
        brake = Brake.from_config(store, cfg)
        if brake.retry_after(q.address, q.user):
            return BRAKED, f"{where}: too many failed sign-ins from {q.address}; wait"
        proved = access.authenticate(store, q.user, q.second)
        if proved is None:
            brake.record(q.address, q.user, target=q.uri, detail={"via": "credential-check"})
            return BAD_KEY, f"{where}: wrong, expired or revoked key, or not {q.user}'s"
        subject = proved.subject
        if opts.key_only:
            if action == "write" and subject.scope != "write":
                return READ_ONLY_KEY, f"{where}: the key is read-only"
            return OK, f"{where}: key accepted"

    model = access.facts(store, target.model_id, subject.user)
    decision = access.check(subject, model, action)
    if decision.allowed:
        return OK, f"{where}: allowed"
    reason = decision.reason if model is not None else "no such model, or no access"
    return DENIED, f"{where}: {reason}"


def main(argv: list[str], stdin: str | None = None, env: Mapping[str, str] | None = None
         ) -> int | None:
    """Run the check for a command line, or None when it is not one this fast path takes."""
    opts = parse_argv(argv)
    if opts is None:
        return None
    try:
        text = stdin if stdin is not None else sys.stdin.read(65536)
    except (OSError, UnicodeDecodeError):
        _say("could not read the user name and key from stdin")
        return USAGE
    environ = os.environ if env is None else env
    code, reason = check(opts, text, environ)
    if code != OK or environ.get("MODELGIT_CREDCHECK_VERBOSE"):
        _say(reason)
    return code


# --------------------------------------------------------------------------- launcher
LAUNCHER_USAGE = ("usage: modelgit-credential-check [--data DIR] [--git-prefix PREFIX]"
                  " [--socket PATH] [--key-only]")


def launcher_text(python: str | None = None) -> str:
    """The ``modelgit-credential-check`` file install.sh writes for Apache's snippet.

    The ``modelgit`` console script starts Python with ``site``, which on this machine costs
    ~30 ms (the virtualenv's ``.pth`` files and finders) of a ~45 ms start, and Apache runs the
    check twice per git request. The launcher starts Python with ``-I -S`` and puts only the
    package's folder on ``sys.path``, as the hook shims do; the cold path turns ``site`` on
    when it needs it.
    """
    from modelgit.hooks.install import package_root

    python = python or sys.executable
    if any(c.isspace() for c in python) or len(python) > 120:
        raise ValueError(f"{python!r} cannot go on a #! line (spaces, or too long)")
    return (f"#!{python} -IS\n"
            "# modelgit credential-check for Apache's mod_authnz_external, written by"
            " install.sh.\n"
            "# -IS: no site-packages at start; only modelgit's folder goes on sys.path.\n"
            "import sys\n"
            f"sys.path.insert(0, {package_root()!r})\n"
            "from modelgit.credcheck import launch\n"
            "launch()\n")


def launch() -> None:
    """What the launcher runs: ``credential-check`` with the launcher's arguments."""
    code = main(["credential-check", *sys.argv[1:]])
    if code is None:
        _say(LAUNCHER_USAGE)
        code = USAGE
    sys.exit(code)
