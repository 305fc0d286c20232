#!/usr/bin/env bash
# Installs the Debian 12 packages vmbus-sim needs to build, test and
# benchmark (libxml2-utils is xmllint, which the tests use to check JUnit
# reports against the Jenkins schemas; clang and its runtime are CI's second
# compiler and build the libFuzzer targets of fuzz/; chromium renders the HTML
# timeline headless in the browser test, and python3 runs the checker of the
# Chrome trace export). Safe to run again: it only calls
# apt-get when something is missing. Needs root or sudo.
set -euo pipefail

packages=(
  g++ clang-14 cmake ninja-build
  libboost-dev
  libprotobuf-dev protobuf-compiler
  libgtest-dev libgmock-dev
  libbenchmark-dev
  libxml2-utils
  clang libclang-rt-14-dev
  chromium python3
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
  as_root=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}"
