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
  # Reports (rescuectl report): Excel files through libxlsxwriter; the tests read them back
  # with openpyxl.
  libxlsxwriter-dev python3-openpyxl
  # Fuzzing (fuzz/run.sh): clang 14 with libFuzzer and the sanitizer runtimes.
  clang-14 libfuzzer-14-dev libclang-rt-14-dev
  # Browser tests (tests/browser): headless chromium driven by playwright-core from npm.
  # A CJK font so the zh-CN console renders in the test screenshots instead of empty boxes.
  chromium fonts-wqy-zenhei
  nodejs npm
)

missing=()
for p in "${packages[@]}"; do
  # NodeSource's nodejs bundles npm and conflicts with Debian's npm package: an npm already on
  # the PATH is enough.
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update
  $sudo_cmd apt-get install -y --no-install-recommends "${missing[@]}"
fi

# From npm, pinned by package-lock.json: playwright-core for the browser tests (no browser
# download: the tests use /usr/bin/chromium) and ECharts, the charting library of the console's
# reports page, which the server serves from web/vendor/ (no CDN). `npm ci` when the lock file is
# there, so every machine gets the same versions; skipped when those versions are installed.
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -f "$repo_root/package.json" ]; then
  export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
  stale=""
  for pkg in playwright-core echarts; do
    wanted="$(ROOT="$repo_root" PKG="$pkg" node -p "require(process.env.ROOT + '/package.json').dependencies[process.env.PKG]")"
    have="$(ROOT="$repo_root" PKG="$pkg" node -p "try { require(process.env.ROOT + '/node_modules/' + process.env.PKG + '/package.json').version } catch { '' }")"
    [ "$wanted" = "$have" ] || stale="yes"
  done
  if [ -n "$stale" ]; then
    if [ -f "$repo_root/package-lock.json" ]; then
      (cd "$repo_root" && npm ci --no-audit --no-fund)
    else
      (cd "$repo_root" && npm install --no-audit --no-fund)
    fi
  fi
  # The console serves the library itself: web/vendor/ (not in git) holds npm's build and licence.
  mkdir -p "$repo_root/web/vendor"
  cp "$repo_root/node_modules/echarts/dist/echarts.min.js" "$repo_root/web/vendor/echarts.min.js"
  cp "$repo_root/node_modules/echarts/LICENSE" "$repo_root/web/vendor/echarts.LICENSE.txt"
fi
