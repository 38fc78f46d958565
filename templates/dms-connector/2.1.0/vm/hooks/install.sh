#!/bin/sh
# install hook: runs with cwd = the new release directory, before ozg switches to it.
# Environment (VM driver): OZG_SITE OZG_ENVIRONMENT OZG_PROCEDURE OZG_VERSION OZG_RELEASE
# OZG_RELEASE_DIR, optionally OZG_TARGET_DIR for state shared between releases.
# Writes only below the release directory and $OZG_TARGET_DIR/shared; safe to run again.
set -eu

version={{ procedure.version | shell }}
site={{ site.name | shell }}

fail() {
  echo "install: $*" >&2
  exit 1
}

[ -f config/connector.json ] || fail "config/connector.json is missing"
if command -v node >/dev/null 2>&1; then
  node -e 'JSON.parse(require("fs").readFileSync("config/connector.json", "utf8"))' ||
    fail "config/connector.json is not valid JSON"
fi
grep -q '^ARCHIVE_TOKEN=' config/archive.env || fail "config/archive.env has no ARCHIVE_TOKEN"
case $(ls -l config/archive.env) in
  -rw-------*) ;;
  *) fail "config/archive.env must be mode 0600" ;;
esac
command -v curl >/dev/null 2>&1 || echo "install: warning: curl not found; batches will fail until it is installed" >&2

# the outbox holds applications not yet archived: it must outlive this release
for dir in outbox archived; do
  if [ -n "${OZG_TARGET_DIR:-}" ]; then
    shared="$OZG_TARGET_DIR/shared/$dir"
    mkdir -p "$shared"
    if [ -L "$dir" ] || [ ! -e "$dir" ]; then
      rm -f "$dir"
      ln -s "$shared" "$dir"
    fi
  else
    mkdir -p "$dir"
  fi
done

mkdir -p state
printf '%s\n' "${OZG_RELEASE:-manual}" >state/installed.tmp
mv state/installed.tmp state/installed
echo "install: dms-connector $version ready for $site"
