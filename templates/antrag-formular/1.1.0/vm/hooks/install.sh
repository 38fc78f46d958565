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

validate_json() {
  if command -v node >/dev/null 2>&1; then
    node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$1"
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$1"
  else
    # no interpreter on this host: at least insist on an object
    head -c 1 "$1" | grep -q '{'
  fi
}

[ -f config/app.json ] || fail "config/app.json is missing"
validate_json config/app.json || fail "config/app.json is not valid JSON"
grep -q '^SMTP_PASSWORD=' config/smtp.env || fail "config/smtp.env has no SMTP_PASSWORD"
# the file holds a secret: refuse to go live when anyone but the owner can read it
case $(ls -l config/smtp.env) in
  -rw-------*) ;;
  *) fail "config/smtp.env must be mode 0600" ;;
esac

# one data directory per offered form
set -- {% for form in values.formIds %}{{ form | shell }} {% endfor %}
for form in "$@"; do
  case $form in
    '' | *[!a-z0-9-]*) fail "invalid form id: $form" ;;
  esac
  mkdir -p "data/forms/$form"
done

# attachments wait here until the application is transferred (new in 1.1.0)
mkdir -p data/uploads

# submitted applications must survive upgrades, so the inbox lives outside the release
if [ -n "${OZG_TARGET_DIR:-}" ]; then
  shared="$OZG_TARGET_DIR/shared/inbox"
  mkdir -p "$shared"
  if [ -L inbox ] || [ ! -e inbox ]; then
    rm -f inbox
    ln -s "$shared" inbox
  fi
else
  mkdir -p inbox
fi

mkdir -p state
printf '%s\n' "${OZG_RELEASE:-manual}" >state/installed.tmp
mv state/installed.tmp state/installed
echo "install: antrag-formular $version ready for $site ($# forms)"
