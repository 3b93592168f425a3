"""Real web servers for the existing-host tests: nginx + fcgiwrap, Apache, run on loopback
ports from configuration files in a temporary folder, never the system's own.

Run as root (CI), Apache refuses to serve as root, so it serves as ``www-data`` and the host's
repositories belong to that user, as on a Debian host; everything of the test then lives in
a world-traversable folder, and modelgit's commands run as that user (the CLI works "as the
service user", the README). nginx and fcgiwrap run as the current user.
"""

from __future__ import annotations

import base64
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

import pytest

from tests.helpers.git import git
from tests.helpers.site import free_port
from tests.helpers.wait import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL = REPO_ROOT / "install.sh"
IS_ROOT = os.geteuid() == 0
APACHE_USER = "www-data"
KEY_RE = re.compile(r"mg_[A-Za-z0-9]{40}")
GIT_BACKEND = Path(subprocess.run(["git", "--exec-path"], capture_output=True, text=True,
                                  check=True).stdout.strip()) / "git-http-backend"
APACHE_MODULES = Path("/usr/lib/apache2/modules")

#: A README whose front matter the card check must refuse (a framework that is not one).
BAD_CARD = "---\nlicense: apache-2.0\nTraining framework:\n  - Pytorch\n---\n# model\n"
GOOD_README = "# demo\n\nA repository that was on the host before modelgit.\n"
#: The host's own hook: it notes that it ran and what environment git gave it.
LEGACY_HOOK = ("#!/bin/sh\necho legacy-ran >> \"$GIT_DIR/legacy.log\"\n"
               "env > \"$GIT_DIR/legacy.env\"\ncat > /dev/null\n")


def sbin(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def skip_unless(*tools: str) -> None:
    """A missing tool fails the test (it must not hide behind a skip)."""
    missing = [t for t in tools if sbin(t) is None]
    if missing:
        pytest.fail(f"needs {', '.join(missing)}: run `bash tests/bootstrap.sh` as root")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def unix_health(path: Path) -> bool:
    """GET /-/health over modelgit's unix socket."""
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(2)
        s.connect(str(path))
        s.sendall(b"GET /-/health HTTP/1.0\r\nHost: localhost\r\n\r\n")
        return b" 200 " in s.recv(64)


@dataclass
class Answer:
    status: int
    headers: Message  # case-insensitive: nginx spells it Www-Authenticate
    body: bytes


def http_get(url: str, user: str | None = None, key: str | None = None, *,
             data: bytes | None = None, host: str | None = None,
             headers: dict[str, str] | None = None) -> Answer:
    """GET (POST with ``data``) with Basic credentials when given; ``host`` sets the Host
    header (the address the client reached the site at)."""
    req = urllib.request.Request(url, data=data,  # noqa: S310 - loopback only
                                 headers=headers or {})
    if user is not None and key is not None:
        token = base64.b64encode(f"{user}:{key}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    if host is not None:
        req.add_header("Host", host)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - loopback
            return Answer(resp.status, resp.headers, resp.read())
    except urllib.error.HTTPError as err:
        return Answer(err.code, err.headers, err.read())


@dataclass
class Proc:
    """A server process in its own session, so that stopping it stops its workers too."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        try:  # workers left behind (fcgiwrap's children) share the session's group
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def start(name: str, cmd: list[str], log: Path, *, user: str | None = None,
          env: dict[str, str] | None = None) -> Proc:
    kwargs: dict[str, object] = {}
    if user is not None and IS_ROOT:
        pw = pwd.getpwnam(user)
        kwargs = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        popen = subprocess.Popen(cmd, stdout=out, stderr=out, stdin=subprocess.DEVNULL,
                                 start_new_session=True, env=env or dict(os.environ),
                                 **kwargs)  # type: ignore[call-overload]
    return Proc(name, popen, log)


@dataclass
class Layout:
    """Everything of one host under one world-traversable folder."""

    base: Path
    web: str
    service_user: str
    port: int = field(default_factory=free_port)
    procs: list[Proc] = field(default_factory=list)

    @property
    def repos(self) -> Path:
        return self.base / "srv" / "git"

    @property
    def prefix(self) -> Path:
        return self.base / "opt" / "modelgit"

    @property
    def data(self) -> Path:
        return self.base / "var" / "modelgit"

    @property
    def socket(self) -> Path:
        return self.base / "run" / "modelgit" / "modelgit.sock"

    @property
    def fcgi_socket(self) -> Path:
        return self.base / "run" / "fcgiwrap.sock"

    @property
    def web_dir(self) -> Path:
        return self.base / self.web

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def clone_url(self, repo: str = "demo") -> str:
        return f"{self.url}/git/acme/{repo}.git"

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()

    def stop(self, name: str) -> None:
        for proc in [p for p in self.procs if p.name == name]:
            proc.stop()
            self.procs.remove(proc)


@contextmanager
def layout(web: str) -> Iterator[Layout]:
    """A fresh host folder; removed afterwards with every process started in it stopped."""
    base = Path(tempfile.mkdtemp(prefix=f"modelgit-{web}-"))
    base.chmod(0o755)
    user = APACHE_USER if (IS_ROOT and web == "apache") else pwd.getpwuid(os.geteuid()).pw_name
    lay = Layout(base=base, web=web, service_user=user)
    for folder in (lay.repos.parent, lay.web_dir / "logs", lay.web_dir / "run",
                   lay.web_dir / "tmp", base / "work", base / "run"):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
    try:
        yield lay
    finally:
        lay.stop_all()
        if os.environ.get("MODELGIT_KEEP_HOST"):
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def chown_tree(path: Path, user: str) -> None:
    if not IS_ROOT:
        return
    pw = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(root, name), pw.pw_uid, pw.pw_gid)
    os.lchown(path, pw.pw_uid, pw.pw_gid)


def make_host_repo(lay: Layout) -> Path:
    """The host's bare repository with one commit and a hook of its own, plus a repository
    whose name modelgit cannot take."""
    lay.repos.mkdir(parents=True, exist_ok=True)
    repo = lay.repos / "demo.git"
    git("init", "-q", "--bare", "--initial-branch=main", str(repo))
    seed = lay.base / "work" / "seed"
    git("clone", "-q", str(repo), str(seed))
    (seed / "README.md").write_text(GOOD_README)
    git("add", "README.md", cwd=seed)
    git("commit", "-q", "-m", "on the host before modelgit", cwd=seed)
    git("push", "-q", "origin", "HEAD:main", cwd=seed)
    hook = repo / "hooks" / "pre-receive"
    hook.write_text(LEGACY_HOOK)
    hook.chmod(0o755)
    git("init", "-q", "--bare", str(lay.repos / "Not_A_Model.git"))
    chown_tree(lay.repos, lay.service_user)
    return repo


@dataclass
class Installed:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def keys_printed(self) -> list[str]:
        return KEY_RE.findall(self.stdout)


def snapshot_checkout(dest: Path) -> Path:
    """A copy of what install.sh installs from, so that edits to the working tree while the
    test runs cannot make a rerun look like a new version."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    dest.mkdir(parents=True)
    for name in ("install.sh", "pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, dest / name)
    shutil.copytree(REPO_ROOT / "modelgit", dest / "modelgit", ignore=ignore)
    shutil.copytree(REPO_ROOT / "requirements", dest / "requirements")  # the locks it installs
    return dest / "install.sh"


@dataclass
class SharedInstall:
    """The session's real install (tests/host/conftest.py): its Python, and its runs."""

    python: str
    runs: list[dict[str, object]]  # the real install.sh runs, keys blanked out


def run_install(lay: Layout, *, extra_env: dict[str, str] | None = None) -> Installed:
    script = lay.base / "checkout" / "install.sh"
    if not script.exists():
        snapshot_checkout(script.parent)
    cmd = ["bash", str(script), "--prefix", str(lay.prefix), "--data", str(lay.data),
           "--repos", str(lay.repos), "--space", "acme", "--owner", "alice",
           "--web", lay.web, "--git-prefix", "/git", "--socket", str(lay.socket)]
    if lay.web == "nginx":
        cmd += ["--fcgi-socket", str(lay.fcgi_socket)]
    env = dict(os.environ, **(extra_env or {}))
    started = time.monotonic()
    # From the checkout's folder, as an administrator runs ./install.sh.
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600,
                          check=False, cwd=script.parent)
    return Installed(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


def unit_exec(lay: Layout) -> tuple[list[str], str | None]:
    """ExecStart and User of the generated systemd unit, as systemd would read them."""
    command: list[str] = []
    user = None
    for line in (lay.prefix / "etc" / "modelgit.service").read_text().splitlines():
        if line.startswith("ExecStart="):
            command = shlex.split(line.removeprefix("ExecStart="))
        elif line.startswith("User="):
            user = line.removeprefix("User=").strip()
    assert command, "modelgit.service has no ExecStart"
    return command, user


def start_modelgit(lay: Layout) -> Proc:
    command, user = unit_exec(lay)
    env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
    proc = start("modelgit", command, lay.base / "modelgit-serve.log", user=user, env=env)
    lay.procs.append(proc)
    wait_for(lambda: unix_health(lay.socket) or not proc.alive(), 30, "modelgit serve's socket",
             ignore=(OSError,))
    assert proc.alive(), proc.tail()
    return proc


def start_standalone(lay: Layout) -> tuple[Proc, str]:
    """``modelgit serve`` on a loopback TCP port over the host's data folder, as the service
    user: the standalone server's answers, to compare the web server's with."""
    command, user = unit_exec(lay)
    port = free_port()
    socket_at = command.index("--socket")
    command = [*command[:socket_at], "--host", "127.0.0.1", "--port", str(port),
               *command[socket_at + 2:]]
    env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
    proc = start("standalone", command, lay.base / "modelgit-standalone.log", user=user,
                 env=env)
    lay.procs.append(proc)
    wait_for(lambda: port_open(port) or not proc.alive(), 30, "modelgit serve on TCP",
             ignore=(OSError,))
    assert proc.alive(), proc.tail()
    return proc, f"http://127.0.0.1:{port}"


def unreachable_for(user: str, path: Path) -> Path | None:
    """The first folder above ``path`` (or ``path`` itself) that ``user`` cannot pass
    through or read, None when all is reachable (as root only; otherwise it is our own)."""
    if not IS_ROOT:
        return None
    pw = pwd.getpwnam(user)
    as_user: dict[str, object] = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    for folder in [*reversed(path.parents), path]:
        test = ["test", "-r", str(folder)] if folder == path else ["test", "-x", str(folder)]
        if subprocess.run(test, check=False, **as_user).returncode != 0:  # type: ignore[call-overload]
            return folder
    return None


def modelgit(lay: Layout, *args: str) -> str:
    """The installed CLI on the data folder, as the service user; stdout."""
    kwargs: dict[str, object] = {}
    if IS_ROOT and lay.service_user != "root":
        pw = pwd.getpwnam(lay.service_user)
        kwargs = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    proc = subprocess.run([str(lay.prefix / "bin" / "modelgit"), "--data", str(lay.data),
                           *args], capture_output=True, text=True, timeout=120, check=False,
                          cwd=lay.base, env={"PATH": os.environ["PATH"], "LANG": "C.UTF-8"},
                          **kwargs)  # type: ignore[call-overload]
    assert proc.returncode == 0, f"modelgit {' '.join(args)}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


# --------------------------------------------------------------------------- nginx
def write_nginx_conf(lay: Layout, server_body: str) -> Path:
    d = lay.web_dir
    conf = d / "nginx.conf"
    user = "user root;\n" if IS_ROOT else ""
    conf.write_text(f"""{user}worker_processes 1;
pid {d}/run/nginx.pid;
events {{ worker_connections 128; }}
http {{
    access_log {d}/logs/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    server {{
        listen 127.0.0.1:{lay.port};
{server_body}
    }}
}}
""")
    return conf


def nginx_plain_git(lay: Layout) -> str:
    """The host before modelgit: anonymous git over fcgiwrap, as many hosts run it."""
    return f"""
        location ~ ^/git(/.*)$ {{
            fastcgi_pass unix:{lay.fcgi_socket};
            fastcgi_param SCRIPT_FILENAME {GIT_BACKEND};
            fastcgi_param GIT_PROJECT_ROOT {lay.repos};
            fastcgi_param GIT_HTTP_EXPORT_ALL 1;
            fastcgi_param PATH_INFO $1;
            fastcgi_param QUERY_STRING $query_string;
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param CONTENT_TYPE $content_type;
            fastcgi_param CONTENT_LENGTH $content_length;
        }}
"""


def start_nginx(lay: Layout, server_body: str) -> Proc:
    lay.stop("nginx")
    conf = write_nginx_conf(lay, server_body)
    nginx = sbin("nginx")
    assert nginx is not None
    d = lay.web_dir
    base = [nginx, "-p", str(d), "-e", str(d / "logs" / "error.log"), "-c", str(conf)]
    checked = subprocess.run([*base, "-t"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    proc = start("nginx", [*base, "-g", "daemon off;"], d / "logs" / "stderr.log")
    lay.procs.append(proc)
    wait_for(lambda: port_open(lay.port) or not proc.alive(), 30, "nginx", ignore=(OSError,))
    assert proc.alive(), proc.tail() + (d / "logs" / "error.log").read_text()
    return proc


def start_fcgiwrap(lay: Layout) -> Proc:
    fcgiwrap = sbin("fcgiwrap")
    assert fcgiwrap is not None
    proc = start("fcgiwrap", [fcgiwrap, "-c", "4", "-s", f"unix:{lay.fcgi_socket}"],
                 lay.base / "fcgiwrap.log")
    lay.procs.append(proc)
    wait_for(lambda: lay.fcgi_socket.exists() or not proc.alive(), 30, "fcgiwrap's socket",
             ignore=(OSError,))
    assert proc.alive(), proc.tail()
    return proc


# --------------------------------------------------------------------------- Apache
APACHE_MODULE_LIST = ("mpm_event", "authn_core", "authz_core", "authz_user", "auth_basic",
                      "authnz_external", "cgid", "alias", "env", "mime", "proxy",
                      "proxy_http", "headers")


def write_apache_conf(lay: Layout, vhost_body: str) -> Path:
    d = lay.web_dir
    loads = "\n".join(f"LoadModule {m}_module {APACHE_MODULES}/mod_{m}.so"
                      for m in APACHE_MODULE_LIST)
    user = f"User {APACHE_USER}\nGroup {APACHE_USER}\n" if IS_ROOT else ""
    conf = d / "httpd.conf"
    conf.write_text(f"""ServerRoot {d}
ServerName 127.0.0.1
Listen 127.0.0.1:{lay.port}
PidFile {d}/run/httpd.pid
DefaultRuntimeDir {d}/run
Mutex file:{d}/run default
ScriptSock {d}/run/cgid.sock
ErrorLog {d}/logs/error.log
LogLevel warn
{user}{loads}
TypesConfig /etc/mime.types
LogFormat "%h %u \\"%r\\" %>s %b" common
CustomLog {d}/logs/access.log common
<VirtualHost 127.0.0.1:{lay.port}>
{vhost_body}
</VirtualHost>
""")
    return conf


def apache_plain_git(lay: Layout) -> str:
    """The host before modelgit: anonymous git through git http-backend."""
    return f"""    SetEnv GIT_PROJECT_ROOT {lay.repos}
    SetEnv GIT_HTTP_EXPORT_ALL 1
    ScriptAlias /git/ {GIT_BACKEND}/
"""


def start_apache(lay: Layout, vhost_body: str) -> Proc:
    lay.stop("apache")
    conf = write_apache_conf(lay, vhost_body)
    apache = sbin("apache2")
    assert apache is not None
    checked = subprocess.run([apache, "-f", str(conf), "-t"], capture_output=True, text=True,
                             check=False)
    assert checked.returncode == 0, checked.stderr
    proc = start("apache", [apache, "-f", str(conf), "-DFOREGROUND"],
                 lay.web_dir / "logs" / "stderr.log")
    lay.procs.append(proc)
    wait_for(lambda: port_open(lay.port) or not proc.alive(), 30, "apache", ignore=(OSError,))
    assert proc.alive(), proc.tail() + (lay.web_dir / "logs" / "error.log").read_text()
    return proc


# --------------------------------------------------------------------------- git clients
@dataclass
class Client:
    """A person's git: their own global config with ``credential.helper store``."""

    home: Path

    @property
    def env(self) -> dict[str, str]:
        return {"GIT_CONFIG_GLOBAL": str(self.home / "gitconfig"), "GIT_TERMINAL_PROMPT": "0",
                "GIT_ASKPASS": "", "SSH_ASKPASS": ""}

    @property
    def store(self) -> Path:
        return self.home / "credentials"

    def git(self, *args: str, cwd: Path | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        return git(*args, cwd=cwd, env=self.env, check=check)


def client(lay: Layout, name: str, url: str | None = None, key: str | None = None, *,
           home_name: str | None = None) -> Client:
    """A client whose credential store holds ``name``'s key for the host (or nothing)."""
    home = lay.base / "clients" / (home_name or name)
    home.mkdir(parents=True, exist_ok=True)
    lines = ["[credential]", f"\thelper = store --file={home / 'credentials'}",
             '[filter "lfs"]', "\tprocess = git-lfs filter-process",
             "\tsmudge = git-lfs smudge -- %f", "\tclean = git-lfs clean -- %f",
             "\trequired = true", "[user]", f"\tname = {name}", f"\temail = {name}@example.com",
             "[init]", "\tdefaultBranch = main", "[lfs]", "\tlocksverify = true"]
    (home / "gitconfig").write_text("\n".join(lines) + "\n")
    if key is not None and url is not None:
        host = url.split("://", 1)[1]
        (home / "credentials").write_text(f"http://{name}:{key}@{host}\n")
        (home / "credentials").chmod(0o600)
    return Client(home)
