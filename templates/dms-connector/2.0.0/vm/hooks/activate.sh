#!/bin/sh
# activate hook: runs with cwd = the live release directory, right after the switch.
# Restarts the batch timer when the host has one (set up by the operator); on hosts
# without it (the local data center) it only records the activation.
set -eu

version={{ procedure.version | shell }}
site={{ site.name | shell }}
timer=ozg-dms-connector.timer
if command -v systemctl >/dev/null 2>&1 && systemctl cat "$timer" >/dev/null 2>&1; then
  systemctl restart "$timer"
fi

mkdir -p state
printf '%s\n' "${OZG_RELEASE:-manual}" >state/activated.tmp
mv state/activated.tmp state/activated
echo "activate: dms-connector $version live for $site"
