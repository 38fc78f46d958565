import { MAX_RETRIES, MAX_RETRY_WAIT_MS, retryDelayMs, type KubeResponse } from '../../../../src/targets/kubernetes/kube-api.js';

const answer = (status: number, retryAfter?: string): KubeResponse => ({ status, body: '', ...(retryAfter === undefined ? {} : { retryAfter }) });

describe('retrying API requests as client-go does', () => {
  it('retries a 429 of any request after the seconds Retry-After asks for', () => {
    expect(retryDelayMs({ method: 'GET' }, answer(429, '1'), 0)).toBe(1000);
    expect(retryDelayMs({ method: 'POST' }, answer(429, '2'), 0)).toBe(2000);
    expect(retryDelayMs({ method: 'PATCH' }, answer(429, '0'), 0)).toBe(0);
  });

  it('retries a 5xx with Retry-After only for requests that may be repeated, never a POST', () => {
    for (const method of ['GET', 'PUT', 'PATCH', 'DELETE'] as const) expect(retryDelayMs({ method }, answer(503, '1'), 0)).toBe(1000);
    expect(retryDelayMs({ method: 'POST' }, answer(503, '1'), 0)).toBeUndefined();
    expect(retryDelayMs({ method: 'GET' }, answer(500, '3'), 0)).toBe(3000);
  });

  it('does not retry without a usable Retry-After, other statuses, or after MAX_RETRIES', () => {
    expect(retryDelayMs({ method: 'GET' }, answer(503), 0)).toBeUndefined();
    expect(retryDelayMs({ method: 'GET' }, answer(429), 0)).toBeUndefined();
    expect(retryDelayMs({ method: 'GET' }, answer(429, 'Fri, 04 Dec 2026 21:00:00 GMT'), 0)).toBeUndefined();
    expect(retryDelayMs({ method: 'GET' }, answer(409, '1'), 0)).toBeUndefined();
    expect(retryDelayMs({ method: 'GET' }, answer(429, '1'), MAX_RETRIES - 1)).toBe(1000);
    expect(retryDelayMs({ method: 'GET' }, answer(429, '1'), MAX_RETRIES)).toBeUndefined();
  });

  it('waits at most MAX_RETRY_WAIT_MS however long the server asks', () => {
    expect(retryDelayMs({ method: 'GET' }, answer(429, '3600'), 0)).toBe(MAX_RETRY_WAIT_MS);
  });
});
