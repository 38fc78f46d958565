/**
 * The POSIX sh scripts the VM driver sends through a shell transport. One script per operation
 * keeps round trips to one per apply and per rollback; each is assembled from small parts.
 *
 * Protocol: hook and tool output goes to stderr; stdout carries only `ozg-…` lines the driver
 * parses: `ozg-step <name>` before each step (the last one names the step that failed),
 * `ozg-nothing <reason>`, `ozg-reverted [<release>]`, `ozg-revert-failed`, `ozg-live <marker>`,
 * `ozg-missing-blob <key>` (a store blob the link step did not find). The marker read, asked
 * about store keys, starts with `ozg-store-missing <index>…` before the marker.
 */
import { quoteShell as q } from '../../shell-quote.js';

/** Name of the per-release metadata file (sh-sourceable) written into every release directory. */
export const RELEASE_METADATA_FILE = '.ozg-release';
export const MARKER_FILE = 'release.json';
/**
 * The file list of a release, written by ozg into its directory: one JSON object, each bundle
 * path to its sha256. The marker holds this file's sha256, so `ozg verify` trusts neither an
 * edited file nor an edited list.
 */
export const MANIFEST_FILE = '.ozg-files';
/**
 * Names of the files a release held once its hooks ran (`find . -type f`), written by the apply
 * script: files a hook made are the release's own, not extra files for `ozg verify`.
 */
export const HOOK_FILES_FILE = '.ozg-present';
/** First stdout word of the lines the verify script prints (see buildVerifyScript). */
export const VERIFY_PREFIX = 'ozg-verify';
/**
 * The target's blob store, shared by every procedure under the root: `<root>/.ozg-store/sha256/
 * <sha256>-<mode>` (docs/architecture.md, "Blob store"). Procedure directories are DNS labels,
 * so the dot-name never collides with one.
 */
export const STORE_DIR = '.ozg-store/sha256';
/**
 * Archive folder of the blobs an apply adds to the store, and of the `links` list of release
 * files made as hard links to store blobs; the apply script moves it out of the release.
 */
export const INCOMING_DIR = '.ozg-incoming';
export const LINKS_FILE = `${INCOMING_DIR}/links`;
/** First stdout line of the live script when asked about store keys: the indexes of those missing. */
export const STORE_REPORT_PREFIX = 'ozg-store-missing';

/** Values every script for one procedure on one target starts from. */
export interface ScriptContext {
  /** absolute directory holding one directory per procedure */
  root: string;
  site: string;
  environment: string;
  procedure: string;
}

export interface ApplyScriptOptions extends ScriptContext {
  release: string;
  /** the complete marker JSON (one line) to write once the release is live */
  marker: string;
  keepReleases: number;
  /**
   * the marker file's content as ozg read it before ('' for none), trailing newlines aside: the
   * script refuses to go on when the target holds another one now, because `marker` names the
   * release read then as the previous one. Undefined: no check (a first boot from a seed).
   */
  expectedMarker?: string;
}

export interface RollbackScriptOptions extends ScriptContext {
  /** release to switch to; default: the marker's `previous` */
  toRelease?: string;
  deployedAt: string;
}

export interface ReleaseMetadata {
  version: string;
  hash: string;
  release: string;
  hooks: { install?: string; activate?: string };
}

/** `<root>/<procedure>`: holds `releases/`, `current` and the marker. */
export function procedureDir(context: ScriptContext): string {
  return `${context.root}/${context.procedure}`;
}

/** The release's identity as JSON members without braces, so sh can splice it into a marker. */
export function formatIdentity(release: { version: string; hash: string; release: string }): string {
  return JSON.stringify({ version: release.version, hash: release.hash, release: release.release }).slice(1, -1);
}

/** Content of a release's metadata file: shell assignments, every value quoted. */
export function renderReleaseMetadata(metadata: ReleaseMetadata): string {
  return [
    '# Written by ozg at apply; sourced to run the hooks of this release (also on rollback).',
    `ozg_version=${q(metadata.version)}`,
    `ozg_hash=${q(metadata.hash)}`,
    `ozg_release=${q(metadata.release)}`,
    `ozg_install_hook=${q(metadata.hooks.install ?? '')}`,
    `ozg_activate_hook=${q(metadata.hooks.activate ?? '')}`,
    `ozg_identity=${q(formatIdentity(metadata))}`,
    '',
  ].join('\n');
}

/**
 * One exec: `ozg-kept {identity}` per release kept on the target (those with metadata), newest
 * first by the release folder's time (release ids only tell the second: two deploys within one
 * second would otherwise come in random order). Release ids are plain words, so `ls` is safe.
 */
export function buildKeptReleasesScript(context: ScriptContext): string {
  return joinParts(
    preamble(context),
    helperFunctions(),
    `for r in $(cd "$dir/releases" 2>/dev/null && ls -1dt -- */); do
  m="$dir/releases/\${r%/}/${RELEASE_METADATA_FILE}"
  [ -f "$m" ] || continue
  r=\${m%/${RELEASE_METADATA_FILE}}
  i=$(ozg_identity "\${r##*/}") && printf 'ozg-kept {%s}\n' "$i"
done
exit 0`,
  );
}

/** `<root>/.ozg-store/sha256` */
export function storeDir(context: ScriptContext): string {
  return `${context.root}/${STORE_DIR}`;
}

/**
 * One exec: print the marker if there is one, nothing otherwise. With `askStore`, the store
 * keys come one a line on stdin (a long list would not fit a command line) and a first line
 * `ozg-store-missing <index>…` names those the store lacks, by their 0-based line number.
 */
export function buildLiveScript(context: ScriptContext, askStore = false): string {
  const marker = `f=${q(`${procedureDir(context)}/${MARKER_FILE}`)}\nif [ -f "$f" ]; then cat "$f"; fi\n`;
  if (!askStore) return marker;
  return `s=${q(storeDir(context))}
i=0
printf '%s' ${q(STORE_REPORT_PREFIX)}
while IFS= read -r k; do
  [ -f "$s/$k" ] || printf ' %s' "$i"
  i=$((i + 1))
done
echo
${marker}`;
}

/**
 * One exec, read-only: the marker, the live release's file list, and the sha256 of every file
 * in it (hook-made files included: they show as extra). Lines: `ozg-verify marker <json>`,
 * `ozg-verify manifest <json>`, `ozg-verify no-current`, `ozg-verify no-tool`, then
 * `ozg-verify present` followed by HOOK_FILES_FILE, then `ozg-verify sums` followed by
 * sha256sum's own output (names escaped its way).
 */
export function buildVerifyScript(context: ScriptContext): string {
  return `dir=${q(procedureDir(context))}
[ -f "$dir/${MARKER_FILE}" ] || exit 0
printf '${VERIFY_PREFIX} marker %s\n' "$(cat "$dir/${MARKER_FILE}")"
cd "$dir/current" 2>/dev/null || { echo '${VERIFY_PREFIX} no-current'; exit 0; }
[ ! -f ${MANIFEST_FILE} ] || printf '${VERIFY_PREFIX} manifest %s\n' "$(cat ${MANIFEST_FILE})"
if command -v sha256sum >/dev/null 2>&1; then sum='sha256sum'
elif command -v shasum >/dev/null 2>&1; then sum='shasum -a 256'
else echo '${VERIFY_PREFIX} no-tool'; exit 0; fi
if [ -f ${HOOK_FILES_FILE} ]; then echo '${VERIFY_PREFIX} present'; cat ${HOOK_FILES_FILE}; fi
echo '${VERIFY_PREFIX} sums'
find . -type f ! -path ./${RELEASE_METADATA_FILE} ! -path ./${MANIFEST_FILE} ! -path ./${HOOK_FILES_FILE} -exec $sum {} +
`;
}

/** One exec: unpack the archive on stdin into a new release, install, switch, activate, record, prune. */
export function buildApplyScript(options: ApplyScriptOptions): string {
  const id = q(options.release);
  return joinParts(
    preamble(options),
    helperFunctions(),
    revertFunction(),
    pruneFunction(),
    storeFunctions(options),
    `ozg_step prepare
${options.expectedMarker === undefined ? '' : checkMarkerUnchanged(options.expectedMarker)}[ -d "$dir/releases" ] || mkdir -p "$dir/releases" || exit
live=''
[ ! -L "$dir/current" ] || live=$(ozg_live_release) || live=''
if [ "$live" = ${id} ]; then echo ${q(`ozg: release ${options.release} is live; refusing to overwrite it`)} >&2; exit 1; fi
rel="$dir/releases/"${id}
{ ozg_absent "$rel" || rm -rf "$rel"; } && mkdir "$rel" || exit`,
    // A tight umask while unpacking: no file is ever wider than 0600 on the way to the mode
    // the archive carries (-p applies that mode exactly, whatever the umask).
    `ozg_step extract
# cd, not tar -C: GNU tar unquotes backslash escapes in a -C argument.
(cd "$rel" && umask 077 && tar -x -p --no-same-owner -f -) 1>&2 || { rc=$?; rm -rf "$rel"; exit "$rc"; }
cat >/dev/null  # drain any padding tar left unread, so the sender never sees a broken pipe`,
    `ozg_step store
ozg_store_incoming || { rc=$?; rm -rf "$rel"; exit "$rc"; }`,
    `ozg_step link
ozg_link_release || { rc=$?; rm -rf "$rel"; exit "$rc"; }`,
    `ozg_step install
ozg_hook ${id} install || { rc=$?; rm -rf "$rel"; exit "$rc"; }`,
    `ozg_step switch
ozg_switch ${id} || { rc=$?; rm -f "$dir/current.tmp"; rm -rf "$rel"; exit "$rc"; }`,
    `ozg_step activate
ozg_hook ${id} activate || { rc=$?; ozg_revert; exit "$rc"; }`,
    `ozg_step marker
(cd "$rel" && find . -type f) >"$rel/${HOOK_FILES_FILE}" 2>/dev/null || true
${writeMarkerFromLiteral(options.marker)}`,
    // Pruning is housekeeping: a failure there must not turn a live release into a failed apply.
    `ozg_step prune
ozg_prune ${Math.max(1, Math.floor(options.keepReleases))} ${id} "$live" || true
ozg_collect_store || true
ozg_step done`,
  );
}

/** One exec: switch back to the previous (or named) release, activate it, rewrite the marker. */
export function buildRollbackScript(options: RollbackScriptOptions): string {
  return joinParts(
    preamble(options),
    helperFunctions(),
    `live=$(ozg_live_release) || { echo 'ozg-nothing no release is live'; exit 0; }
target=${q(options.toRelease ?? '')}
if [ -z "$target" ]; then
  # The marker is one line written by ozg with \`previous\` last; release ids never hold a quote.
  target=$(sed -n 's/.*"previous":{.*"release":"\\([^"]*\\)"}}[[:space:]]*$/\\1/p' "$dir/${MARKER_FILE}" 2>/dev/null)
  [ -n "$target" ] || { echo 'ozg-nothing the live release records no previous release'; exit 0; }
fi
[ "$target" != "$live" ] || { echo "ozg-nothing release $target is already live"; exit 0; }
[ -f "$dir/releases/$target/${RELEASE_METADATA_FILE}" ] || { echo "ozg-nothing release $target is no longer kept on the target"; exit 0; }`,
    `ozg_step switch
ozg_switch "$target" || { rc=$?; rm -f "$dir/current.tmp"; exit "$rc"; }`,
    `ozg_step activate
ozg_hook "$target" activate || {
  rc=$?
  if ozg_switch "$live"; then
    printf 'ozg-reverted %s\\n' "$live"
    ozg_hook "$live" activate || echo "ozg: the activate hook of release $live failed as well" >&2
  else
    echo 'ozg-revert-failed'
  fi
  exit "$rc"
}`,
    `ozg_step marker
tid=$(ozg_identity "$target")
lid=$(ozg_identity "$live") || lid=''
prev=''
[ -z "$lid" ] || prev=$(printf ',"previous":{%s}' "$lid")
printf '{"procedure":%s,%s,"deployedAt":%s%s}\\n' ${q(JSON.stringify(options.procedure))} "$tid" ${q(JSON.stringify(options.deployedAt))} "$prev" >"$dir/${MARKER_FILE}.tmp" &&
  mv -f "$dir/${MARKER_FILE}.tmp" "$dir/${MARKER_FILE}" || exit
printf 'ozg-live '
cat "$dir/${MARKER_FILE}"
ozg_step done`,
  );
}

/** One exec per smoke attempt: the check's command in the live release directory, output merged. */
export function buildSmokeCommandScript(context: ScriptContext, command: string): string {
  const current = `${procedureDir(context)}/current`;
  return joinParts(
    exportEnvironment(context),
    `exec 2>&1 </dev/null
cd ${q(current)} || { echo ${q(`ozg: no live release: ${current} is missing`)}; exit 125; }`,
    // The command is the procedure's own shell text and runs as written, on lines of its own.
    command,
  );
}

/** Lines of `ozg-…` protocol output, picked out of a script's stdout. */
export interface ScriptReport {
  /** last step the script announced */
  step?: string;
  done: boolean;
  nothing?: string;
  /** set when an activate failure switched back: the release now live, or '' for none */
  reverted?: string;
  revertFailed: boolean;
  live?: string;
  /** a store blob the link step found missing */
  missingBlob?: string;
}

export function parseScriptReport(stdout: string): ScriptReport {
  const report: ScriptReport = { done: false, revertFailed: false };
  for (const line of stdout.split('\n')) {
    const [word, ...rest] = line.split(' ');
    const value = rest.join(' ');
    if (word === 'ozg-step') {
      if (value === 'done') report.done = true;
      else report.step = value;
    } else if (word === 'ozg-nothing') report.nothing = value;
    else if (word === 'ozg-reverted') report.reverted = value;
    else if (word === 'ozg-revert-failed') report.revertFailed = true;
    else if (word === 'ozg-live') report.live = value;
    else if (word === 'ozg-missing-blob') report.missingBlob = value;
  }
  return report;
}

function joinParts(...parts: string[]): string {
  return parts.join('\n\n') + '\n';
}

function exportEnvironment(context: ScriptContext): string {
  return `dir=${q(procedureDir(context))}
export OZG_SITE=${q(context.site)} OZG_ENVIRONMENT=${q(context.environment)} OZG_PROCEDURE=${q(context.procedure)} OZG_TARGET_DIR="$dir"`;
}

function preamble(context: ScriptContext): string {
  return `set -u
umask 022
${exportEnvironment(context)}
ozg_step() { printf 'ozg-step %s\\n' "$1"; }`;
}

function helperFunctions(): string {
  return `# The release id \`current\` points at, or failure when nothing is live.
ozg_live_release() { l=$(readlink "$dir/current" 2>/dev/null) && printf '%s' "\${l#releases/}"; }

# Nothing at path $1, not even a dangling link. Every test here is a shell builtin: a process
# started on the target costs more than the test (a deploy starts ~20; the floor 4).
ozg_absent() { [ ! -e "$1" ] && [ ! -L "$1" ]; }

# Point current at releases/$1. rename(2) over the old link makes the switch atomic.
ozg_switch() {
  { ozg_absent "$dir/current.tmp" || rm -f "$dir/current.tmp"; } && ln -s "releases/$1" "$dir/current.tmp" && mv -T "$dir/current.tmp" "$dir/current"
}

# Run hook $2 (install|activate) of release $1 in its directory, as its metadata file names it.
ozg_hook() {
  (
    . "$dir/releases/$1/${RELEASE_METADATA_FILE}" || exit 1
    case $2 in install) hook=$ozg_install_hook ;; *) hook=$ozg_activate_hook ;; esac
    [ -n "$hook" ] || exit 0
    cd "$dir/releases/$1" || exit 1
    export OZG_VERSION="$ozg_version" OZG_RELEASE="$1" OZG_RELEASE_DIR="$dir/releases/$1"
    if [ -x "$hook" ]; then exec "./$hook"; else exec sh "./$hook"; fi
  ) </dev/null 1>&2
}

# The identity members (version, hash, release) of release $1, from its metadata file.
ozg_identity() {
  [ -f "$dir/releases/$1/${RELEASE_METADATA_FILE}" ] || return 1
  (. "$dir/releases/$1/${RELEASE_METADATA_FILE}" && printf '%s' "$ozg_identity")
}`;
}

function revertFunction(): string {
  return `# After a failed activate: back to the release that was live before, or to none at all.
ozg_revert() {
  if [ -n "$live" ] && [ -d "$dir/releases/$live" ]; then
    ozg_switch "$live" || { echo 'ozg-revert-failed'; return; }
    printf 'ozg-reverted %s\\n' "$live"
    ozg_hook "$live" activate || echo "ozg: the activate hook of release $live failed as well" >&2
  else
    rm -f "$dir/current"
    echo 'ozg-reverted'
  fi
  rm -rf "$rel"
}`;
}

function pruneFunction(): string {
  return `# Keep $1 releases in all: $2 (live) and $3 (previous, may be empty) first, then the newest others.
ozg_prune() {
  left=$(($1 - 1))
  [ -z "$3" ] || left=$((left - 1))
  ls -1t "$dir/releases" | while IFS= read -r r; do
    case $r in "$2" | "$3") continue ;; esac
    if [ "$left" -gt 0 ]; then left=$((left - 1)); else rm -rf "$dir/releases/$r"; fi
  done
}`;
}

function storeFunctions(context: ScriptContext): string {
  return `s=${q(storeDir(context))}

# sha256 of file $1 in hex, with the first tool the target has; status 2 when it has none.
ozg_sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum <"$1" | cut -c1-64
  elif command -v shasum >/dev/null 2>&1; then shasum -a 256 <"$1" | cut -c1-64
  elif command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 <"$1" | sed 's/^.*= *//'
  else return 2; fi
}

# Blobs that came in the archive go into the store: checked against the sha256 in their name,
# then renamed in under a temporary name, so the store never holds a partial or wrong blob.
ozg_store_incoming() {
  [ -d "$rel/${INCOMING_DIR}" ] || return 0
  mkdir -p "$s" || return
  for f in "$rel/${INCOMING_DIR}"/*-*; do
    [ -f "$f" ] || continue
    k=\${f##*/}
    sum=$(ozg_sha256 "$f"); st=$?
    if [ "$st" = 2 ]; then
      echo "ozg: no sha256sum, shasum or openssl on the target: blob $k is stored unchecked (SSH protected it in transit)" >&2
    elif [ "$st" != 0 ] || [ "$sum" != "\${k%-*}" ]; then
      echo "ozg: blob $k arrived with sha256 \${sum:-unknown}: not stored" >&2
      return 1
    fi
    t="$s/.tmp.$k.$$"
    mv -f "$f" "$t" && mv -f "$t" "$s/$k" || { rm -f "$t"; return 1; }
  done
}

# Release files that are store blobs become hard links to them (\`<key> <path>\` a line).
ozg_link_release() {
  if [ -f "$rel/${LINKS_FILE}" ]; then
    bad=''
    while IFS= read -r line; do
      k=\${line%% *}
      p=\${line#* }
      if [ ! -f "$s/$k" ]; then
        echo "ozg-missing-blob $k"
        echo "ozg: blob $k is not in the store $s (removed since ozg looked?)" >&2
        bad=1; continue
      fi
      # a release file edited in place edits its store blob too (one inode): such a blob no
      # longer matches its name, leaves the store, and the driver's retry sends it anew
      sum=$(ozg_sha256 "$s/$k"); st=$?
      if [ "$st" != 2 ] && { [ "$st" != 0 ] || [ "$sum" != "\${k%-*}" ]; }; then
        rm -f "$s/$k"
        echo "ozg-missing-blob $k"
        echo "ozg: blob $k in the store $s was changed since it was stored (sha256 \${sum:-unknown}): removed, to be sent again" >&2
        bad=1; continue
      fi
      [ -z "$bad" ] || continue
      # a release folder on another filesystem than the store cannot link: it gets a copy
      # (the store blob then has no link left and goes at the next collection)
      ln "$s/$k" "$rel/$p" 2>/dev/null || cp -p "$s/$k" "$rel/$p" || return
    done <"$rel/${LINKS_FILE}"
    [ -z "$bad" ] || return 1
  fi
  ozg_absent "$rel/${INCOMING_DIR}" || rm -rf "$rel/${INCOMING_DIR}"
}

# A blob no kept release of any procedure links to has one link left, the store's own.
ozg_collect_store() {
  [ -d "$s" ] || return 0
  find "$s" -type f -links 1 ! -name '.tmp.*' -exec rm -f {} +
}`;
}

function checkMarkerUnchanged(expected: string): string {
  // $(…) drops trailing newlines, so the caller's text is compared without them too
  return `seen=''
ozg_absent "$dir/${MARKER_FILE}" || seen=$(cat "$dir/${MARKER_FILE}" 2>/dev/null) || seen=''
if [ "$seen" != ${q(expected.replace(/\n+$/, ''))} ]; then echo 'ozg: the live release changed since ozg read it (another deploy or rollback?); nothing was touched, run again' >&2; exit 1; fi
`;
}

function writeMarkerFromLiteral(marker: string): string {
  return `printf '%s\\n' ${q(marker)} >"$dir/${MARKER_FILE}.tmp" && mv -f "$dir/${MARKER_FILE}.tmp" "$dir/${MARKER_FILE}" || exit`;
}

/** Marks the status line the HTTP probe prints after the body. */
export const HTTP_STATUS_PREFIX = 'ozg-http-status ';

/**
 * One exec: an HTTP GET run on the target itself, for checks of the host's own service
 * (`http://127.0.0.1:8080/health` means that VM's port 8080, not this machine's). curl where
 * installed, else busybox/GNU wget; the body goes to stdout, then a status line.
 */
export function buildHttpProbeScript(url: string, timeoutSeconds: number): string {
  const t = Math.max(1, Math.ceil(timeoutSeconds));
  return `u=${q(url)}
if command -v curl >/dev/null 2>&1; then
  curl -sS --max-time ${t} -w '\\n${HTTP_STATUS_PREFIX}%{http_code}\\n' "$u"
elif command -v wget >/dev/null 2>&1; then
  b=$(mktemp) || exit
  # GNU wget keeps an error page's body on request; busybox wget has no such option
  keep=''; if wget --help 2>&1 | grep -q content-on-error; then keep=--content-on-error; fi
  status=$(wget -q -S $keep -T ${t} -O "$b" "$u" 2>&1 | awk '/^ *HTTP\\//{s=$2} END{print s}')
  cat "$b"; rm -f "$b"
  printf '\\n${HTTP_STATUS_PREFIX}%s\\n' "\${status:-000}"
else
  echo 'ozg: neither curl nor wget is installed on the target' >&2; exit 127
fi
`;
}
