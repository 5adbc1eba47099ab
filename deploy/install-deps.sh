#!/usr/bin/env bash
# Installs every Debian package the build and the tests need. Idempotent; safe to run again.
set -euo pipefail

packages=(
  build-essential cmake g++ pkg-config git clang-format
  libboost1.81-dev
  libprotobuf-dev protobuf-compiler
  libhiredis-dev redis-server
  libspdlog-dev libfmt-dev
  catch2
  libsqlite3-dev sqlite3
  libssl-dev
  libtomlplusplus-dev
  libcli11-dev
  libbenchmark-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update
  $sudo_cmd apt-get install -y --no-install-recommends "${missing[@]}"
fi
