#!/bin/sh
# activate hook: runs with cwd = the live release directory, right after the switch.
# Restarts the service when the host runs it as a systemd unit (set up by the operator);
# on hosts without one (the local data center) it only records the activation.
set -eu

version={{ procedure.version | shell }}
site={{ site.name | shell }}
unit=ozg-antrag-formular.service
if command -v systemctl >/dev/null 2>&1 && systemctl cat "$unit" >/dev/null 2>&1; then
  systemctl try-reload-or-restart "$unit"
fi

mkdir -p state
printf '%s\n' "${OZG_RELEASE:-manual}" >state/activated.tmp
mv state/activated.tmp state/activated
echo "activate: antrag-formular $version live for $site"
