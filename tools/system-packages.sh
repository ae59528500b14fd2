#!/usr/bin/env bash
# Debian packages the test suite and the grading sandbox use:
#   chromium   - the browser tests (Playwright drives the system Chromium)
#   bubblewrap - the grading sandbox
# Installs what is missing when it can (root with apt-get); otherwise says what is
# missing and carries on: the tests that need a package skip with a reason.
set -u
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
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
