#!/usr/bin/env bash
# install.sh: put modelgit on an existing git host (nginx + fcgiwrap, or Apache); see docs/architecture.md.
#
#   ./install.sh --prefix DIR --data DIR --repos ROOT --space NAME --owner USER --web nginx|apache \
#                [--fcgi-socket PATH] [--git-prefix /git] [--socket PATH] [--python PATH]
#
# What it does, every step safe to repeat (a second run changes nothing that works and
# repairs what is missing):
#   1. checks git, python3 >= 3.11 and the web server's pieces, naming the Debian packages;
#   2. makes a virtual environment at DIR with DIR/bin/modelgit, installed from this checkout
#      (reinstalled only when the checkout changed), or links DIR/bin/modelgit to an existing
#      installation given with --python / $MODELGIT_INSTALL_PYTHON (tests, development);
#   3. initialises the data folder (the site admin's key is printed the first time only),
#      creates the owner user if missing, and adopts the bare repositories under ROOT in
#      place as private models NAME/<repo> (foreign hooks kept and chained);
#   4. writes DIR/etc/modelgit-nginx.conf or DIR/etc/modelgit-apache.conf (to include in the
#      host's server block; the host's web configuration is never edited) and
#      DIR/etc/modelgit.service, and prints the next steps.
#
# The service user is the owner of ROOT: the web server already runs git http-backend as a
# user that can write the repositories, so modelgit's data folder, hooks and service belong
# to that user too. Run as root, the modelgit commands run as that user (runuser).
# Web server binaries can be pointed at with NGINX=, FCGIWRAP=, APACHE2= and
# APACHE_MODULES_DIR= for layouts other than Debian's.
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROG="install.sh"

usage() {
    sed -n '4,5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    echo "See the comments at the top of $SRC/install.sh for what each step does."
}

die() {
    echo "$PROG: $*" >&2
    exit 1
}

say() {
    echo "$PROG: $*" >&2
}

prefix="" data="" repos="" space="" owner="" web=""
fcgi_socket="/run/fcgiwrap.socket"
git_prefix="/git"
socket="/run/modelgit/modelgit.sock"
python_reuse="${MODELGIT_INSTALL_PYTHON:-}"

while [ $# -gt 0 ]; do
    opt="$1"
    case "$opt" in
        -h|--help) usage; exit 0 ;;
        --*=*) set -- "${opt%%=*}" "${opt#*=}" "${@:2}"; continue ;;
    esac
    [ $# -ge 2 ] || { usage >&2; die "$opt needs a value"; }
    case "$opt" in
        --prefix) prefix="$2" ;;
        --data) data="$2" ;;
        --repos) repos="$2" ;;
        --space) space="$2" ;;
        --owner) owner="$2" ;;
        --web) web="$2" ;;
        --fcgi-socket) fcgi_socket="$2" ;;
        --git-prefix) git_prefix="$2" ;;
        --socket) socket="$2" ;;
        --python) python_reuse="$2" ;;
        *) usage >&2; die "unknown option $opt" ;;
    esac
    shift 2
done

missing_opts=()
for pair in "prefix:$prefix" "data:$data" "repos:$repos" "space:$space" "owner:$owner" \
            "web:$web"; do
    [ -n "${pair#*:}" ] || missing_opts+=("--${pair%%:*}")
done
if [ ${#missing_opts[@]} -gt 0 ]; then
    usage >&2
    die "missing ${missing_opts[*]}"
fi
case "$web" in
    nginx|apache) ;;
    *) die "--web must be nginx or apache, not '$web'" ;;
esac
[ -d "$repos" ] || die "--repos $repos is not a folder (it should hold the host's *.git repositories)"
case "$space" in
    *[!a-z0-9_.-]*|[!a-z0-9]*) die "--space '$space': use a-z, 0-9, '_', '.', '-', starting with a letter or digit" ;;
esac
git_prefix="/${git_prefix#/}"
git_prefix="${git_prefix%/}"
[ -n "$git_prefix" ] || die "--git-prefix must not be empty (e.g. /git)"
case "$git_prefix" in
    *[!A-Za-z0-9_./-]*|*//*|*/./*|*/../*|*/..|*/.) die "--git-prefix '$git_prefix': use a plain path such as /git" ;;
esac

abspath() { realpath -m -- "$1"; }
prefix="$(abspath "$prefix")"
data="$(abspath "$data")"
repos="$(abspath "$repos")"
socket="$(abspath "$socket")"
fcgi_socket="$(abspath "$fcgi_socket")"
for path in "$prefix" "$data" "$socket"; do
    case "$path" in *[[:space:]\"\;\'\$\\]*) die "'$path': paths with spaces, quotes, ';', '\$' or '\\' cannot go into the web server's configuration" ;; esac
done

# --------------------------------------------------------------------------- prerequisites
need=()        # Debian packages to install
need_why=()    # what is missing, for people
want() { need+=("$1"); need_why+=("$2"); }
find_sbin() {  # an administrator's tool, which may be outside a normal user's PATH
    local name="$1" override="$2"
    if [ -n "$override" ]; then
        [ -x "$override" ] && echo "$override"
        return 0
    fi
    command -v "$name" 2>/dev/null || { [ -x "/usr/sbin/$name" ] && echo "/usr/sbin/$name"; } || true
}

command -v git >/dev/null 2>&1 || want git "git"
if command -v git >/dev/null 2>&1; then
    git_exec="$(git --exec-path)"
    [ -x "$git_exec/git-http-backend" ] || want git "git http-backend"
fi
base_python="${PYTHON:-python3}"
if [ -z "$python_reuse" ]; then
    if ! command -v "$base_python" >/dev/null 2>&1; then
        want python3 "python3 (3.11 or newer)"
    elif ! "$base_python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        want python3 "python3 3.11 or newer (found $("$base_python" --version 2>&1); Debian 12 or newer has it)"
    elif ! "$base_python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        want python3-venv "python3's venv module"
    fi
else
    [ -x "$python_reuse" ] || die "--python $python_reuse is not an executable Python"
    "$python_reuse" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        die "--python $python_reuse is older than Python 3.11"
    "$python_reuse" -I -c 'import modelgit' 2>/dev/null ||
        die "--python $python_reuse has no modelgit installed (pip install $SRC into it)"
fi
case "$web" in
    nginx)
        nginx_bin="$(find_sbin nginx "${NGINX:-}")"
        if [ -z "$nginx_bin" ]; then
            want nginx "nginx"
        elif ! "$nginx_bin" -V 2>&1 | grep -q -- '--with-http_auth_request_module'; then
            want nginx "an nginx built with the auth_request module (Debian's nginx is)"
        fi
        [ -n "$(find_sbin fcgiwrap "${FCGIWRAP:-}")" ] || want fcgiwrap "fcgiwrap"
        ;;
    apache)
        [ -n "$(find_sbin apache2 "${APACHE2:-}")" ] || want apache2 "Apache (apache2)"
        modules="${APACHE_MODULES_DIR:-/usr/lib/apache2/modules}"
        [ -f "$modules/mod_authnz_external.so" ] ||
            want libapache2-mod-authnz-external "Apache's mod_authnz_external"
        ;;
esac
if [ ${#need[@]} -gt 0 ]; then
    echo "$PROG: cannot install modelgit for $web yet; missing:" >&2
    for why in "${need_why[@]}"; do echo "  - $why" >&2; done
    mapfile -t pkgs < <(printf '%s\n' "${need[@]}" | sort -u)
    echo "$PROG: install them with: apt-get install -y ${pkgs[*]}" >&2
    exit 1
fi

# --------------------------------------------------------------------------- service user
svc_user="$(stat -c %U "$repos")"
svc_group="$(stat -c %G "$repos")"
me="$(id -un)"
if [ "$(id -u)" -eq 0 ] && [ "$svc_user" != "root" ]; then
    command -v runuser >/dev/null 2>&1 || die "runuser (Debian package util-linux) is needed to run modelgit as $svc_user"
    as_svc() { runuser -u "$svc_user" -- "$@"; }
else
    as_svc() { "$@"; }
    if [ "$svc_user" != "$me" ]; then
        say "warning: $repos belongs to $svc_user, but this runs as $me; the web server's"
        say "warning: git must be able to write the data folder $data as well"
        svc_user="$me"
        svc_group="$(id -gn)"
    fi
fi

# --------------------------------------------------------------------------- the program
# The hooks and the web server's helper run as the service user: it must be able to run the
# interpreter (a python3 under root's home, e.g. pyenv's, is out of its reach).
can_run() { as_svc "$1" -c 'import sys' >/dev/null 2>&1; }
if [ -z "$python_reuse" ]; then
    base_python="$(realpath "$(command -v "$base_python")")"
    if ! can_run "$base_python"; then
        if [ -z "${PYTHON:-}" ] && [ -x /usr/bin/python3 ] && can_run /usr/bin/python3 &&
                /usr/bin/python3 -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            say "$svc_user cannot run $base_python; using /usr/bin/python3"
            base_python=/usr/bin/python3
        else
            die "$svc_user cannot run $base_python; give a system Python 3.11+ with PYTHON=/usr/bin/python3"
        fi
    fi
elif ! as_svc "$python_reuse" -I -c 'import modelgit' >/dev/null 2>&1; then
    die "$svc_user cannot run modelgit with $python_reuse; install without --python instead"
fi
mkdir -p "$prefix/bin" "$prefix/etc"
if [ -n "$python_reuse" ]; then
    script="$(dirname "$python_reuse")/modelgit"
    [ -x "$script" ] || die "$script is missing: reinstall modelgit into that environment"
    if [ "$(readlink "$prefix/bin/modelgit" 2>/dev/null)" != "$script" ]; then
        ln -sfn "$script" "$prefix/bin/modelgit"
        say "linked $prefix/bin/modelgit to $script"
    fi
    py="$python_reuse"
else
    py="$prefix/bin/python"
    if [ ! -x "$py" ] || ! "$py" -c 'import sys' >/dev/null 2>&1; then
        say "creating the virtual environment $prefix with $base_python"
        "$base_python" -m venv "$prefix"
    fi
    # Reinstall only when the checkout changed: pip rebuilds a local folder every time.
    stamp="$(cd "$SRC" && find pyproject.toml README.md requirements/runtime.txt modelgit -type f \
             ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 | sort -z |
             xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
    if [ ! -x "$prefix/bin/modelgit" ] || [ "$(cat "$prefix/.modelgit-source" 2>/dev/null)" != "$stamp" ]; then
        say "installing modelgit from $SRC into $prefix (a minute or less)"
        build="$(mktemp -d)"
        trap 'rm -rf "$build"' EXIT
        # A copy, so that building never writes build/ or *.egg-info into the checkout.
        (cd "$SRC" && tar --exclude=__pycache__ --exclude='*.pyc' -cf - pyproject.toml README.md modelgit) |
            (cd "$build" && tar -xf -)
        # The runtime lock first, each file checked against its hash: the versions the tests
        # passed with, pip and the build backend included (a current pip writes console scripts
        # that import nothing; pip 23's import re, which Apache's helper would pay on every
        # request). Then modelgit itself, built with that setuptools: nothing else is fetched.
        "$py" -m pip install --quiet --disable-pip-version-check --require-hashes \
                -r "$SRC/requirements/runtime.txt" ||
            die "pip could not install modelgit's locked dependencies into $prefix (see above)"
        "$py" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation \
                "$build" ||
            die "pip could not install modelgit into $prefix (see above)"
        echo "$stamp" > "$prefix/.modelgit-source"
    fi
fi
"$prefix/bin/modelgit" --version >/dev/null || die "$prefix/bin/modelgit does not run"
# The hooks' compiled forwarder (modelgit/hooks/compiled.py) is built beside the Python, which
# this user may write to and the service user may not; without a C compiler the hooks start
# Python instead, so a failure here is no reason to stop.
"$py" -c 'from modelgit.hooks.compiled import forwarder; forwarder()' >/dev/null 2>&1 || true
mg=("$prefix/bin/modelgit" --data "$data")

# --------------------------------------------------------------------------- data and models
mkdir -p "$data"
if [ "$(id -u)" -eq 0 ] && [ "$svc_user" != "root" ]; then
    # Repair ownership (a root-run step of an earlier install may have left files behind).
    find "$data" ! -user "$svc_user" -exec chown -h "$svc_user:$svc_group" {} +
fi
if [ -f "$data/modelgit.db" ]; then
    as_svc "${mg[@]}" init
else
    as_svc "${mg[@]}" init --admin admin
fi
# Clone hints and links printed by modelgit (model create, refusals, the hub API) carry the
# prefix under which the web server serves git. Added when missing; a value set by hand stays.
cfgfile="$data/config.yaml"
if [ ! -f "$cfgfile" ] || ! grep -qE '^git_prefix:' "$cfgfile"; then
    printf '# where the web server serves git (install.sh --git-prefix)\ngit_prefix: %s\n' "$git_prefix" |
        as_svc tee -a "$cfgfile" >/dev/null
    say "wrote git_prefix: $git_prefix into $cfgfile"
elif ! grep -qxE "git_prefix: *[\"']?${git_prefix}[\"']?" "$cfgfile"; then
    say "note: $cfgfile sets another git_prefix than --git-prefix $git_prefix; modelgit prints that one"
fi
if ! as_svc "${mg[@]}" --json user list |
        "$py" -c 'import json, sys; sys.exit(all(u["name"] != sys.argv[1] for u in json.load(sys.stdin)))' "$owner"; then
    as_svc "${mg[@]}" user add "$owner" >/dev/null
    say "created user $owner"
fi
as_svc "${mg[@]}" adopt "$repos" --space "$space" --owner "$owner"

socket_dir="$(dirname "$socket")"
if [ ! -d "$socket_dir" ]; then
    # The service creates its socket here; the web server's user only needs to pass through.
    mkdir -p "$socket_dir"
    chmod 0755 "$socket_dir"
    [ "$(id -u)" -ne 0 ] || chown "$svc_user:$svc_group" "$socket_dir"
fi

# --------------------------------------------------------------------------- configuration
write_config() {  # write stdin to $1 if it differs; say what happened
    local target="$1" tmp
    tmp="$(mktemp "$target.XXXXXX")"
    cat > "$tmp"
    chmod 644 "$tmp"
    if [ -f "$target" ] && cmp -s "$tmp" "$target"; then
        rm -f "$tmp"
        say "$target is up to date"
    else
        mv -f "$tmp" "$target"
        say "wrote $target"
    fi
}

gp="$git_prefix"
gp_re="${git_prefix//./\\.}"
backend="$git_exec/git-http-backend"
repos_root="$data/repos"
header="Written by $SRC/install.sh; run it again to refresh (edits here are overwritten)."

if [ "$web" = nginx ]; then
    conf="$prefix/etc/modelgit-nginx.conf"
    # What both questions to modelgit carry (the access check and, after a refusal, the
    # answer to show): the request, the prefix, and the client's credentials and address in
    # headers of modelgit's own.
    # LFS transfers and the API go to modelgit as they are: streamed both ways, any size.
    to_modelgit="    client_max_body_size 0;
    proxy_pass http://unix:$socket:;
    proxy_http_version 1.1;
    proxy_set_header Connection \"\";
    proxy_set_header Host \$http_host;
    proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto \$scheme;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_read_timeout 600s;"
    auth_question="    proxy_set_header Content-Length \"\";
    proxy_set_header X-Original-URI \$request_uri;
    proxy_set_header X-Original-Method \$request_method;
    proxy_set_header X-Modelgit-Git-Prefix $gp;
    proxy_set_header X-Modelgit-Authorization \$http_authorization;
    proxy_set_header X-Modelgit-Client-Address \$remote_addr;"
    write_config "$conf" <<EOF
# modelgit for nginx: include this file inside the server {} block that serves git:
#     include $conf;
# $header
#
# Git smart HTTP under $gp/<space>/<model>.git goes to git http-backend through fcgiwrap,
# after nginx asks modelgit (auth_request, over its unix socket) whether the caller may read
# or write the model. The answer names the user (REMOTE_USER, which modelgit's hooks read).
# LFS (.../info/lfs/) and the API (/api/) are served by modelgit itself.
# Remove the host's own git location for $gp/ first: nginx -t names it as a duplicate.
# Include it before other regex locations (e.g. a "location ~ \.git { deny all; }"), which
# would otherwise take the LFS transfer links below.

location ^~ $gp/ {
    client_max_body_size 0;

    location ~ "^$gp_re(?<modelgit_path>/[^/]+/[^/]+\.git/(?:info/refs|git-upload-pack|git-receive-pack))\$" {
        auth_request /_modelgit/auth;
        auth_request_set \$modelgit_user \$upstream_http_x_remote_user;
        auth_request_set \$modelgit_scope \$upstream_http_x_modelgit_key_scope;
        # A refusal is answered as modelgit serve answers it (see @modelgit_denied). nginx
        # makes any other answer of the auth question its own 500: modelgit's 503 (its
        # database is unreachable) among them, which must reach git as the 503 it is, or
        # git would not say why (and a 401 would make it forget the key).
        error_page 401 403 500 = @modelgit_denied;

        fastcgi_pass unix:$fcgi_socket;
        fastcgi_request_buffering off;
        fastcgi_buffering off;
        fastcgi_read_timeout 600s;
        fastcgi_param SCRIPT_FILENAME $backend;
        fastcgi_param GIT_PROJECT_ROOT $repos_root;
        fastcgi_param GIT_HTTP_EXPORT_ALL 1;
        fastcgi_param PATH_INFO \$modelgit_path;
        fastcgi_param REMOTE_USER \$modelgit_user if_not_empty;
        fastcgi_param MODELGIT_KEY_SCOPE \$modelgit_scope if_not_empty;
        fastcgi_param HTTP_AUTHORIZATION "";
        fastcgi_param PATH /usr/local/bin:/usr/bin:/bin;
        fastcgi_param QUERY_STRING \$query_string;
        fastcgi_param REQUEST_METHOD \$request_method;
        fastcgi_param CONTENT_TYPE \$content_type;
        fastcgi_param CONTENT_LENGTH \$content_length;
        fastcgi_param REQUEST_URI \$request_uri;
        fastcgi_param SERVER_PROTOCOL \$server_protocol;
        fastcgi_param GATEWAY_INTERFACE CGI/1.1;
        fastcgi_param REMOTE_ADDR \$remote_addr;
        fastcgi_param SERVER_NAME \$server_name;
        fastcgi_param SERVER_PORT \$server_port;
    }

    # git-lfs finds LFS at <clone URL>/info/lfs; modelgit serves it without the git prefix.
    location ~ "^$gp_re/[^/]+/[^/]+\.git/info/lfs/" {
        rewrite "^$gp_re(/.*)\$" \$1 break;
        proxy_pass http://unix:$socket:;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host \$http_host;
        proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto \$scheme;
        proxy_request_buffering off;
        proxy_buffering off;
        proxy_read_timeout 600s;
    }

    return 404;
}

# Transfer links in LFS batch answers point at /<space>/<model>.git/info/lfs/... (no prefix).
location ~ "^/[^/]+/[^/]+\.git/info/lfs/" {
$to_modelgit
}

location ^~ /api/ {
$to_modelgit
}

# The question nginx asks before every git request. Only the headers set here reach
# modelgit (never one the client made up); the client's credentials and address go in
# headers of their own, so that modelgit brakes key guessing per client address.
location = /_modelgit/auth {
    internal;
    proxy_pass http://unix:$socket:/-/auth;
    proxy_pass_request_body off;
    proxy_pass_request_headers off;
    proxy_set_header Host localhost;
$auth_question
}

# What the client sees when modelgit refused a git request: modelgit serve's own answer,
# asked again (auth_request can only pass 401 and 403, and no message; any other answer
# is nginx's own 500, sent here too, so a 503 of modelgit's reaches git). So a private model is
# a 404 exactly like a missing one, a known user without the right gets a 403 whose text git
# prints as "remote:" lines (for a gated model: how to request access), and a missing or
# wrong key a 401 with the challenge.
location @modelgit_denied {
    rewrite ^ /-/auth break;
    proxy_pass http://unix:$socket:;
    proxy_method GET;
    proxy_pass_request_body off;
    proxy_pass_request_headers off;
    proxy_set_header Host \$http_host;
    proxy_set_header X-Forwarded-Proto \$scheme;
$auth_question
    proxy_set_header X-Modelgit-Answer client;
    proxy_hide_header X-Modelgit-Reason;
    # auth_request already copied the challenge of a 401; once is enough.
    proxy_hide_header WWW-Authenticate;
}
EOF
else
    conf="$prefix/etc/modelgit-apache.conf"
    # Apache runs the check twice per git request. The launcher starts Python without
    # site-packages (python -I -S), ~30 ms less a run than the modelgit console script
    # (modelgit/credcheck.py, launcher_text); the console script stays the fallback.
    launcher="$prefix/bin/modelgit-credential-check"
    check="$prefix/bin/modelgit --data $data credential-check --git-prefix $gp --socket $socket"
    # -I: the modelgit installed in $py, never a modelgit/ folder in the current directory
    # (run from the checkout, the launcher would point Apache at the checkout, which Apache's
    # user may not be able to read). It must then run as the service user, as Apache runs it.
    if "$py" -I -c 'import sys; from modelgit.credcheck import launcher_text; sys.stdout.write(launcher_text())' \
            > "$launcher.tmp" 2>/dev/null && chmod 755 "$launcher.tmp" && mv -f "$launcher.tmp" "$launcher"; then
        usage_status=0
        (cd / && as_svc "$launcher" --usage) </dev/null >/dev/null 2>&1 || usage_status=$?
        if [ "$usage_status" -eq 2 ]; then
            check="$launcher --data $data --git-prefix $gp --socket $socket"
        else
            say "warning: $svc_user cannot run $launcher (can it read $py and the folders above it?);"
            say "warning: Apache runs the slower modelgit console script"
        fi
    else
        rm -f "$launcher.tmp"
        say "warning: could not write $launcher; Apache runs the slower modelgit console script"
    fi
    write_config "$conf" <<EOF
# modelgit for Apache: include this file inside the <VirtualHost> that serves git:
#     Include $conf
# $header
#
# Modules: a2enmod authnz_external cgid proxy_http headers   (with alias, env, auth_basic,
# authn_core and authz_core, which Debian enables by default).
#
# Git smart HTTP under $gp/<space>/<model>.git goes to git http-backend. mod_authnz_external
# runs modelgit credential-check twice per request: once to check the key (a wrong key is a
# 401, so git asks again and forgets the stored one), once for the group read or write, where
# modelgit's decide() answers (a known user without the right gets a 403 and keeps the key).
# The helper asks the running modelgit serve over its socket (fast); without it, it decides
# by itself, and the reasons go to Apache's error log. What the client sees of a refusal is
# modelgit serve's own answer (ErrorDocument, below): a private model is a 404 like a missing
# one, and a 403 carries the text git prints as "remote:" lines.
# Anonymous requests always get the challenge here, public models included.
# LFS (.../info/lfs/) and the API (/api/) are proxied to modelgit serve's unix socket.
# Remove the host's own ScriptAlias for $gp/ first.

DefineExternalAuth modelgit-key pipe "$check --key-only"
DefineExternalGroup modelgit-access pipe "$check"

ScriptAliasMatch "^$gp_re(/[^/]+/[^/]+\.git/(info/refs|git-upload-pack|git-receive-pack))\$" "$backend\$1"

<LocationMatch "^$gp_re/[^/]+/[^/]+\.git/(info/refs|git-upload-pack|git-receive-pack)\$">
    SetEnv GIT_PROJECT_ROOT $repos_root
    SetEnv GIT_HTTP_EXPORT_ALL 1
    LimitRequestBody 0
    AuthType Basic
    AuthName "modelgit"
    AuthBasicProvider external
    AuthzSendForbiddenOnFailure On
    ErrorDocument 401 /_modelgit/denied
    ErrorDocument 403 /_modelgit/denied
    # The helper never sees the query string: say here which requests are pushes.
    # (mod_authnz_external does not merge its settings into nested sections, so each
    # branch names them all.)
    <If "%{QUERY_STRING} =~ /(^|&)service=git-receive-pack(&|\$)/ || %{REQUEST_URI} =~ m#/git-receive-pack\$#">
        AuthExternal modelgit-key
        GroupExternal modelgit-access
        AuthExternalContext write
        Require external-group write
    </If>
    <Else>
        AuthExternal modelgit-key
        GroupExternal modelgit-access
        Require external-group read
    </Else>
</LocationMatch>

# git-lfs finds LFS at <clone URL>/info/lfs; transfer links point at the same path without
# the git prefix. modelgit checks the key itself there.
ProxyPassMatch "^$gp_re(/[^/]+/[^/]+\.git/info/lfs/.*)\$" "unix:$socket|http://localhost\$1" timeout=600
ProxyPassMatch "^(/[^/]+/[^/]+\.git/info/lfs/.*)\$" "unix:$socket|http://localhost\$1" timeout=600
ProxyPass "/api/" "unix:$socket|http://localhost/api/" timeout=600
<LocationMatch "^($gp_re)?/[^/]+/[^/]+\.git/info/lfs/">
    ProxyPreserveHost On
    LimitRequestBody 0
</LocationMatch>
<Location "/api/">
    ProxyPreserveHost On
    LimitRequestBody 0
</Location>

# The error document of a refused git request: modelgit serve's own answer to it, asked again
# (the helper can only say yes or no). The request line names what was refused; the key
# goes in modelgit's own header, never as Authorization.
# (The empty group: without a \$1 in the target, ProxyPassMatch would append the path.)
ProxyPassMatch "^/_modelgit/denied()\$" "unix:$socket|http://localhost/-/auth\$1" timeout=60
<Location "/_modelgit/denied">
    # Only as the error document above, never asked for from outside.
    Require expr "-n %{reqenv:REDIRECT_STATUS}"
    ProxyPreserveHost On
    RequestHeader set X-Forwarded-Proto "expr=%{REQUEST_SCHEME}"
    RequestHeader set X-Original-URI "expr=%{THE_REQUEST}"
    RequestHeader edit X-Original-URI "^[A-Z]+ ([^ ]*).*\$" "\$1"
    RequestHeader set X-Original-Method "expr=%{THE_REQUEST}"
    RequestHeader edit X-Original-Method "^([A-Z]+) .*\$" "\$1"
    RequestHeader set X-Modelgit-Git-Prefix "$gp"
    RequestHeader set X-Modelgit-Authorization "expr=%{req:Authorization}"
    RequestHeader set X-Modelgit-Client-Address "expr=%{REMOTE_ADDR}"
    RequestHeader set X-Modelgit-Answer client
    RequestHeader unset X-Modelgit-Check
    RequestHeader unset X-Modelgit-User
    RequestHeader unset Authorization
    RequestHeader unset Content-Length
    RequestHeader unset Transfer-Encoding
    # Apache's own challenge of a 401; modelgit's answer carries its own when it is one.
    Header always unset WWW-Authenticate
</Location>
EOF
fi

service_lines=("Type=simple")
if [ "$svc_user" != "root" ]; then
    service_lines+=("User=$svc_user" "Group=$svc_group")
fi
case "$socket" in
    /run/modelgit/*) service_lines+=("RuntimeDirectory=modelgit" "RuntimeDirectoryMode=0750") ;;
esac
service_lines+=("UMask=0007" "ExecStart=$prefix/bin/modelgit --data $data serve --socket $socket"
                "Restart=on-failure")
unit="$prefix/etc/modelgit.service"
write_config "$unit" <<EOF
# modelgit serve: answers nginx's auth_request and serves Git LFS and the API on a unix
# socket. $header
[Unit]
Description=modelgit (model hub on this git host: access checks, LFS, API)
After=network.target

[Service]
$(printf '%s\n' "${service_lines[@]}")

[Install]
WantedBy=multi-user.target
EOF

# --------------------------------------------------------------------------- next steps
run_as=""
[ "$svc_user" = "$me" ] || run_as="sudo -u $svc_user "
if [ "$web" = nginx ]; then
    include_line="include $conf;"
    where="inside the server {} block that serves git (remove its old git location for $gp/)"
    reload="nginx -t && systemctl reload nginx"
    peer="nginx's worker user (www-data on Debian)"
    extra="   fcgiwrap must be listening on $fcgi_socket (Debian: systemctl enable --now fcgiwrap.socket)
   and run as a user that can write the repositories and $data."
else
    include_line="Include $conf"
    where="inside the <VirtualHost> that serves git (remove its old ScriptAlias for $gp/)"
    reload="a2enmod authnz_external cgid proxy_http headers && apachectl configtest && systemctl reload apache2"
    peer="Apache's user (www-data on Debian)"
    extra="   Apache runs git and modelgit credential-check as its own user: that user must be able
   to write the repositories and $data."
fi
cat <<EOF

modelgit is installed for $web. Next steps:
 1. Include the generated snippet $where:
        $include_line
    then: $reload
$extra
 2. Start modelgit (access checks, LFS, API) on $socket:
        systemctl enable --now $unit
    $peer must be able to connect to that socket (it is mode 660, group $svc_group).
 3. Give people keys (shown once):
        ${run_as}$prefix/bin/modelgit --data $data key create $owner
 4. Clone with the user name and the key as the password, e.g.:
        git clone https://HOST$gp/$space/<repo>.git
    Behind HTTPS, set public_url: https://HOST in $data/config.yaml so LFS links use it.
EOF
