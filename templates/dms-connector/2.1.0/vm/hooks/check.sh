#!/bin/sh
# Smoke check (procedure.yaml: config-valid): runs in the live release directory and
# validates what a batch run needs, without contacting the archive. Prints one status
# line; exit 0 = healthy.
set -eu

expected_version={{ procedure.version | shell }}
expected_url={{ values.archiveUrl | shell }}
expected_key={{ values.municipalityKey | shell }}
site={{ site.name | shell }}
environment={{ environment | shell }}
verify_checksums={{ values.verifyChecksums | shell }}

fail() {
  echo "check: $*" >&2
  exit 1
}

[ -f config/connector.json ] || fail "config/connector.json is missing"
[ -s config/archive.env ] || fail "config/archive.env is missing or empty"
[ -d outbox ] || fail "outbox/ is missing"
[ -d archived ] || fail "archived/ is missing"

if [ "$verify_checksums" = true ] &&
  ! command -v sha256sum >/dev/null 2>&1 && ! command -v shasum >/dev/null 2>&1; then
  fail "verifyChecksums is on but neither sha256sum nor shasum is installed"
fi

case $expected_url in
  https://*) ;;
  *) fail "archive URL is not HTTPS" ;;
esac

if command -v node >/dev/null 2>&1; then
  node -e '
    const [url, version, key] = process.argv.slice(1);
    const c = JSON.parse(require("fs").readFileSync("config/connector.json", "utf8"));
    const problems = [];
    if (c.version !== version) problems.push(`version ${c.version}, expected ${version}`);
    if (c.municipalityKey !== key) problems.push(`municipalityKey ${c.municipalityKey}, expected ${key}`);
    if (c.archive?.url !== url) problems.push("archive.url differs from the rendered value");
    if (!(Number.isInteger(c.batch?.size) && c.batch.size > 0)) problems.push("batch.size is not a positive integer");
    if (problems.length) { console.error(problems.join("; ")); process.exit(1); }
  ' "$expected_url" "$expected_version" "$expected_key" || fail "config/connector.json is inconsistent"
else
  grep -q "\"municipalityKey\": \"$expected_key\"" config/connector.json || fail "municipalityKey mismatch"
fi

waiting=$(find outbox -type f | wc -l | tr -d ' ')
echo "dms-connector $expected_version $site/$environment: ok, $waiting waiting"
