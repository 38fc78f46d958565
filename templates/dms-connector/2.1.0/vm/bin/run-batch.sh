#!/bin/sh
# One batch: hand up to batchSize completed applications from outbox/ to the archive and
# move each one to archived/ once the archive acknowledged it. Run from the release
# directory (by a timer or cron on the VM, or by the smoke check with --dry-run).
# The token is read at run time from config/archive.env, so this script holds no secret.
set -eu

archive_url={{ values.archiveUrl | shell }}
profile={{ values.archiveProfile | shell }}
retention_years={{ values.retentionYears | shell }}
batch_size={{ values.batchSize | shell }}
municipality_key={{ values.municipalityKey | shell }}
verify_checksums={{ values.verifyChecksums | shell }}

checksum() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  else
    shasum -a 256 "$1" | cut -d ' ' -f 1
  fi
}

dry_run=no
note=''
if [ "${1:-}" = --dry-run ]; then
  dry_run=yes
  note=' (dry run)'
fi

[ -d outbox ] || { echo "run-batch: outbox/ is missing (install hook not run?)" >&2; exit 1; }
mkdir -p archived state
trap 'rm -f state/auth-header' EXIT

count=0
for doc in outbox/*.xml outbox/*.pdf; do
  [ -f "$doc" ] || continue
  [ "$count" -lt "$batch_size" ] || break
  count=$((count + 1))
  if [ "$dry_run" = yes ]; then
    echo "would send $doc"
    continue
  fi
  if [ -z "${ARCHIVE_TOKEN:-}" ]; then
    . ./config/archive.env
  fi
  digest_header=''
  if [ "$verify_checksums" = true ]; then
    digest_header="X-Content-SHA256: $(checksum "$doc")"
  fi
  # the token goes to curl through a 0600 file, never on a command line (ps would show it)
  (umask 077 && printf 'Authorization: Bearer %s\n' "$ARCHIVE_TOKEN" >state/auth-header)
  curl --fail --silent --show-error --max-time 60 \
    -H @state/auth-header \
    -H "X-Municipality-Key: $municipality_key" \
    -H "X-Archive-Profile: $profile" \
    -H "X-Retention-Years: $retention_years" \
    ${digest_header:+-H "$digest_header"} \
    --data-binary "@$doc" \
    "$archive_url/records" >/dev/null
  mv "$doc" archived/
done

waiting=$(find outbox -type f | wc -l | tr -d ' ')
echo "run-batch: $count sent$note, $waiting waiting"
