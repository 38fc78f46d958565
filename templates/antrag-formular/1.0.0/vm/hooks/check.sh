#!/bin/sh
# Smoke check (procedure.yaml: config-valid): runs in the live release directory and
# validates the configuration the service reads. Prints one status line; exit 0 = healthy.
set -eu

expected_version={{ procedure.version | shell }}
expected_key={{ values.municipalityKey | shell }}
site={{ site.name | shell }}
environment={{ environment | shell }}

fail() {
  echo "check: $*" >&2
  exit 1
}

[ -f config/app.json ] || fail "config/app.json is missing"
[ -s config/smtp.env ] || fail "config/smtp.env is missing or empty"
[ -f state/installed ] || fail "install hook has not completed"

if command -v node >/dev/null 2>&1; then
  summary=$(node -e '
    const [key, version] = process.argv.slice(1);
    const c = JSON.parse(require("fs").readFileSync("config/app.json", "utf8"));
    const problems = [];
    if (c.version !== version) problems.push(`version ${c.version}, expected ${version}`);
    if (c.municipalityKey !== key) problems.push(`municipalityKey ${c.municipalityKey}, expected ${key}`);
    if (!Number.isInteger(c.listen?.port)) problems.push("listen.port is not an integer");
    if (!Array.isArray(c.forms)) problems.push("forms is not a list");
    if (problems.length) { console.error(problems.join("; ")); process.exit(1); }
    process.stdout.write(`${c.forms.length} forms, port ${c.listen.port}`);
  ' "$expected_key" "$expected_version") || fail "config/app.json is inconsistent"
elif command -v python3 >/dev/null 2>&1; then
  summary=$(python3 -c '
import json, sys
c = json.load(open("config/app.json"))
assert c["version"] == sys.argv[2], "version"
assert c["municipalityKey"] == sys.argv[1], "municipalityKey"
print("%d forms, port %d" % (len(c["forms"]), c["listen"]["port"]), end="")
' "$expected_key" "$expected_version") || fail "config/app.json is inconsistent"
else
  grep -q "\"municipalityKey\": \"$expected_key\"" config/app.json || fail "municipalityKey mismatch"
  summary="config present"
fi

echo "antrag-formular $expected_version $site/$environment: ok, $summary"
