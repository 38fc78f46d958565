/**
 * Resource quantities as apimachinery's `resource.Quantity` handles them
 * (kubernetes staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go): parsed with their
 * format (BinarySI for Ki…Ei, DecimalExponent for `e`, else DecimalSI), compared and added
 * exactly, and printed in canonical form, as the texts of LimitRange and ResourceQuota
 * refusals show them (`1000m` prints as `1`, `1024Mi` as `1Gi`). Held in nano-units, the
 * precision Quantity keeps for int64 amounts.
 */

export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

export interface Quantity {
  nanos: bigint;
  format: QuantityFormat;
}

const NANO = 1_000_000_000n;
const BINARY: Record<string, bigint> = { Ki: 1n << 10n, Mi: 1n << 20n, Gi: 1n << 30n, Ti: 1n << 40n, Pi: 1n << 50n, Ei: 1n << 60n };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

/** A quantity from a manifest (a string, or a YAML number); undefined when it is none. */
export function parseQuantity(value: unknown): Quantity | undefined {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : undefined;
  const m = text === undefined ? null : QUANTITY.exec(text);
  if (!m) return undefined;
  const [whole = '0', fraction = ''] = m[1]!.replace(/^[+]/, '').split('.');
  const negative = whole.startsWith('-');
  const digits = BigInt((whole.replace('-', '') || '0') + fraction);
  const suffix = m[2] ?? '';
  let nanos: bigint;
  let format: QuantityFormat = 'DecimalSI';
  if (suffix in BINARY) {
    format = 'BinarySI';
    nanos = scale(digits * BINARY[suffix]! * NANO, -fraction.length);
  } else {
    const exponent = suffix in DECIMAL ? DECIMAL[suffix]! : Number(suffix.slice(1));
    if (!(suffix in DECIMAL)) format = 'DecimalExponent';
    nanos = scale(digits, exponent - fraction.length + 9);
  }
  return { nanos: negative ? -nanos : nanos, format };
}

/** `value * 10^exponent`, rounded up past nano precision as Quantity rounds. */
function scale(value: bigint, exponent: number): bigint {
  if (exponent >= 0) return value * 10n ** BigInt(exponent);
  const divisor = 10n ** BigInt(-exponent);
  return (value + divisor - 1n) / divisor;
}

export function compareQuantities(a: Quantity, b: Quantity): number {
  return a.nanos < b.nanos ? -1 : a.nanos > b.nanos ? 1 : 0;
}

/** Quantity.Add: a zero takes the other's format, as a quota's zero usage does when the first pod is added. */
export function addQuantities(a: Quantity, b: Quantity): Quantity {
  return { nanos: a.nanos + b.nanos, format: a.nanos === 0n ? b.format : a.format };
}

export function zeroQuantity(): Quantity {
  return { nanos: 0n, format: 'DecimalSI' };
}

/** Quantity.String: the canonical form (CanonicalizeBytes). */
export function formatQuantity(q: Quantity): string {
  if (q.nanos === 0n) return '0';
  const sign = q.nanos < 0n ? '-' : '';
  const abs = q.nanos < 0n ? -q.nanos : q.nanos;
  // BinarySI only for whole bytes of at least 1024; anything else would round (quantity.go)
  if (q.format === 'BinarySI' && abs >= 1024n * NANO && abs % NANO === 0n) {
    let bytes = abs / NANO;
    let power = 0;
    while (power < 6 && bytes % 1024n === 0n) {
      bytes /= 1024n;
      power += 1;
    }
    return `${sign}${bytes}${['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'][power]}`;
  }
  // int64Amount.AsCanonicalBytes: drop factors of ten, then step down to a multiple of three
  let mantissa = abs;
  let exponent = -9;
  while (mantissa % 10n === 0n) {
    mantissa /= 10n;
    exponent += 1;
  }
  const adjust = ((exponent % 3) + 3) % 3;
  mantissa *= 10n ** BigInt(adjust);
  exponent -= adjust;
  if (q.format === 'DecimalExponent') return `${sign}${mantissa}${exponent === 0 ? '' : `e${exponent}`}`;
  const suffix = Object.entries(DECIMAL).find(([, e]) => e === exponent)?.[0];
  return suffix === undefined ? `${sign}${mantissa}e${exponent}` : `${sign}${mantissa}${suffix}`;
}

export type ResourceList = Map<string, Quantity>;

/** A `requests`/`limits`/`hard` map; values that are no quantity are left out (validation reports them). */
export function resourceListOf(value: unknown): ResourceList {
  const list: ResourceList = new Map();
  if (value === null || typeof value !== 'object') return list;
  for (const [name, raw] of Object.entries(value as Record<string, unknown>)) {
    const q = parseQuantity(raw);
    if (q) list.set(name, q);
  }
  return list;
}

/** quota's prettyPrint: `name=quantity`, sorted by name, comma separated. */
export function prettyPrint(list: ResourceList): string {
  return [...list.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, q]) => `${name}=${formatQuantity(q)}`)
    .join(',');
}
