#!/usr/bin/env bash
# The programs (not Python packages) that some tests need, installed from Debian's
# registry where this machine can: espeak-ng (the offline speech synthesiser for many
# languages) and chromium (the viewer's tests run in a real headless browser). Without root
# or apt-get it says what is missing; those tests then skip.
set -uo pipefail

packages=(espeak-ng chromium)
missing=()
for package in "${packages[@]}"; do
    command -v "$package" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "not installed (no apt-get here): ${missing[*]}; the tests that need them skip" >&2
    exit 0
fi
run_as_root=()
if [ "$(id -u)" -ne 0 ]; then
    if sudo -n true 2>/dev/null; then
        run_as_root=(sudo -n)
    else
        echo "not installed (needs root): ${missing[*]}; the tests that need them skip" >&2
        exit 0
    fi
fi
export DEBIAN_FRONTEND=noninteractive
install() { "${run_as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
# A fresh machine may not have the package lists yet: fetch them once, then try again.
install || { "${run_as_root[@]}" apt-get update -qq >/dev/null && install; } || {
    echo "could not install ${missing[*]} with apt-get; the tests that need them skip" >&2
}
exit 0
