#!/usr/bin/env bash
# Installs the system tools the tests drive for real (git, git-lfs, nginx, fcgiwrap, Apache with
# mod_authnz_external) from Debian's packages when they are missing, or stops with a clear
# message when it cannot.
set -euo pipefail
need=()
command -v git >/dev/null || need+=(git)
command -v git-lfs >/dev/null || need+=(git-lfs)
# bench/ (make bench) measures the LFS transfers with a plain HTTP client too.
command -v curl >/dev/null || need+=(curl)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v fcgiwrap >/dev/null || [ -x /usr/sbin/fcgiwrap ] || need+=(fcgiwrap)
# install.sh's Apache mode (tests/host): Apache with mod_authnz_external.
command -v apache2 >/dev/null || [ -x /usr/sbin/apache2 ] || need+=(apache2)
[ -f /usr/lib/apache2/modules/mod_authnz_external.so ] || need+=(libapache2-mod-authnz-external)
# Transformers.js (tests/e2e/test_hub_transformersjs.py) and the install.sh lint.
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v shellcheck >/dev/null || need+=(shellcheck)
# The web pages (tests/web) run in a real headless Chromium driven by Selenium.
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
# The hooks' compiled forwarder (modelgit/hooks/forward.c) is built and tested with a C compiler.
command -v cc >/dev/null || need+=(gcc)
# The PostgreSQL store (tests/helpers/postgres.py starts a throwaway cluster with initdb).
command -v initdb >/dev/null || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
[ -f /usr/include/stdio.h ] || need+=(libc6-dev)
if [ -n "${MODELGIT_EXTRA_PACKAGES:-}" ]; then
    for pkg in $MODELGIT_EXTRA_PACKAGES; do
        dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
    done
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "modelgit tests need these Debian packages: ${need[*]}" >&2
    echo "install them with: sudo apt-get install -y ${need[*]}" >&2
    exit 1
fi
echo "bootstrap: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "${need[@]}" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null 2>&1
    apt-get install -y -q "${need[@]}" >/dev/null
}
