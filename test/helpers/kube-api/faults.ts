import type { ServerResponse } from 'node:http';

/**
 * Faults a test arranges for the next requests that match: an overloaded or failing API
 * server (429, 5xx) or a request held back until the test lets it through (to order two
 * clients' requests deterministically).
 *
 * Checked where the real server rejects an overload: after authentication, before
 * authorization and the handlers (the max-in-flight and priority-and-fairness filters,
 * staging/src/k8s.io/apiserver/pkg/server/filters/maxinflight.go and
 * priority-and-fairness.go). Their 429 is not a Status object but plain text,
 * `Too many requests, please try again later.`, with `Retry-After` (maxinflight.go
 * tooManyRequests). A 5xx answers with a metav1.Status like other failures. client-go
 * retries 429 and 5xx only when `Retry-After` is set (rest/request.go checkWait,
 * rest/with_retry.go), up to 10 times.
 */
export interface FaultRule {
  /** one method or several */
  method?: string | string[];
  /** the request path exactly, or a pattern */
  path: string | RegExp;
  /** only requests of this user */
  user?: string;
  /** how many matching requests it affects; default 1 */
  times?: number;
  /** answer with this status instead of serving: 429 (plain text, as the overload filters), 500, 503, 504 */
  status?: number;
  /** the `Retry-After` header; default 1 for 429, none for 5xx */
  retryAfterSeconds?: number;
  /** hold matching requests until this settles, then serve them normally */
  holdUntil?: Promise<unknown>;
}

export interface ArrangedFault {
  /** resolves when the first matching request has arrived */
  readonly reached: Promise<void>;
  /** how many requests it affected so far */
  readonly hits: number;
  remove(): void;
}

interface ActiveFault {
  rule: FaultRule;
  left: number;
  hits: number;
  arrived: () => void;
}

const REASONS: Record<number, string> = { 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout' };

export class Faults {
  private readonly active: ActiveFault[] = [];

  add(rule: FaultRule): ArrangedFault {
    let arrived!: () => void;
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    const fault: ActiveFault = { rule, left: rule.times ?? 1, hits: 0, arrived };
    this.active.push(fault);
    const remove = (): void => {
      const index = this.active.indexOf(fault);
      if (index >= 0) this.active.splice(index, 1);
    };
    return {
      reached,
      get hits() {
        return fault.hits;
      },
      remove,
    };
  }

  /**
   * Applies the first fault matching the request: answers it (true: the request is done),
   * or waits out a hold (false: serve it now).
   */
  async intercept(method: string, path: string, user: string, response: ServerResponse): Promise<boolean> {
    const fault = this.active.find((f) => matches(f.rule, method, path, user));
    if (!fault) return false;
    fault.hits++;
    if (--fault.left <= 0) this.active.splice(this.active.indexOf(fault), 1);
    fault.arrived();
    const { rule } = fault;
    if (rule.holdUntil) await rule.holdUntil.catch(() => undefined);
    if (rule.status === undefined) return false;
    const retryAfter = rule.retryAfterSeconds ?? (rule.status === 429 ? 1 : undefined);
    const headers: Record<string, string> = retryAfter === undefined ? {} : { 'Retry-After': String(retryAfter) };
    if (rule.status === 429) {
      // net/http's http.Error, as tooManyRequests calls it
      const text = 'Too many requests, please try again later.\n';
      response.writeHead(429, { ...headers, 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Content-Length': Buffer.byteLength(text) });
      response.end(text);
      return true;
    }
    const reason = REASONS[rule.status] ?? 'InternalError';
    const status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: rule.status === 503 ? 'the server is currently unable to handle the request' : `the server reported an error (${rule.status})`,
      reason,
      ...(retryAfter === undefined ? {} : { details: { retryAfterSeconds: retryAfter } }),
      code: rule.status,
    };
    const text = JSON.stringify(status);
    response.writeHead(rule.status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    response.end(text);
    return true;
  }
}

function matches(rule: FaultRule, method: string, path: string, user: string): boolean {
  const methods = rule.method === undefined ? undefined : [rule.method].flat().map((m) => m.toUpperCase());
  if (methods && !methods.includes(method.toUpperCase())) return false;
  if (rule.user !== undefined && rule.user !== user) return false;
  return typeof rule.path === 'string' ? rule.path === path : rule.path.test(path);
}
