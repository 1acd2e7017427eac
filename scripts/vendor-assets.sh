#!/usr/bin/env bash
# Reproduce the vendored front-end assets in src/gaodi/config/static/vendor/
# from the npm registry, with pinned versions.  No node_modules or
# package.json is created in the repository: packages are fetched with
# `npm pack` into a temporary directory and only the needed files copied.
#
# Usage: scripts/vendor-assets.sh
# Requires: bash, npm, tar, sha256sum.
set -euo pipefail

HTMX_VERSION="2.0.11"
ECHARTS_VERSION="6.1.0"
AXE_VERSION="4.14.1"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/src/gaodi/config/static/vendor"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

mkdir -p "$DEST"

# fetch NAME VERSION -> prints the extracted package directory
fetch() {
    local name="$1" version="$2" dir="$TMP/$1"
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "${name}@${version}" >/dev/null)
    tar -xzf "$dir"/*.tgz -C "$dir"
    echo "$dir/package"
}

# copy SRC DEST_NAME (fails loudly if the source is missing)
put() {
    install -m 0644 "$1" "$DEST/$2"
}

pkg="$(fetch htmx.org "$HTMX_VERSION")"
put "$pkg/dist/htmx.min.js" htmx.min.js
put "$pkg/LICENSE" htmx.LICENSE

pkg="$(fetch echarts "$ECHARTS_VERSION")"
put "$pkg/dist/echarts.min.js" echarts.min.js
put "$pkg/LICENSE" echarts.LICENSE
# Apache-2.0 s.4(d): the NOTICE file must travel with redistributions, and
# echarts' LICENSE points to the bundled d3 (BSD-3-Clause) licence text.
put "$pkg/NOTICE" echarts.NOTICE
put "$pkg/licenses/LICENSE-d3" echarts-d3.LICENSE

pkg="$(fetch axe-core "$AXE_VERSION")"
put "$pkg/axe.min.js" axe.min.js
put "$pkg/LICENSE" axe-core.LICENSE

cd "$DEST"
sha256sum htmx.min.js htmx.LICENSE \
    echarts.min.js echarts.LICENSE echarts.NOTICE echarts-d3.LICENSE \
    axe.min.js axe-core.LICENSE
echo "Vendored into $DEST; update VENDORED.md if versions or hashes changed." >&2
