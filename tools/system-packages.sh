#!/usr/bin/env bash
# Debian packages the test suite, the grading sandbox and a shared gradebook use, by group:
#   browser   chromium    - the browser tests (Playwright drives the system Chromium)
#   sandbox   bubblewrap  - the grading sandbox (every machine that grades, Dask workers too)
#   database  postgresql  - the PostgreSQL gradebook test (a server on a temporary data directory)
# Usage: bash tools/system-packages.sh [GROUP ...]   (no group: all of them; a student
# bundle can ask for fewer, e.g. `bash tools/system-packages.sh sandbox`).
# Installs what is missing when it can (root with apt-get); otherwise says what is
# missing and carries on: the tests that need a package skip with a reason.
set -u
groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(browser sandbox database)

missing=()
for group in "${groups[@]}"; do
    case "$group" in
        browser) command -v chromium >/dev/null 2>&1 || missing+=(chromium) ;;
        sandbox) command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap) ;;
        # Debian keeps the server's programs off PATH, under /usr/lib/postgresql/VERSION/bin.
        database) compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1 \
            || missing+=(postgresql) ;;
        *) echo "unknown package group: $group (known: browser sandbox database)" >&2; exit 2 ;;
    esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
        exit 0
    fi
    echo "warning: could not install ${missing[*]}; the tests that need them will skip" >&2
else
    echo "note: ${missing[*]} not installed (needs root and apt-get: sudo apt-get install ${missing[*]});" \
         "the tests that need them will skip" >&2
fi
exit 0
