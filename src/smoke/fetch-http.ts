import type { FetchHttp, HttpResponse } from './run-checks.js';

/** The default HTTP runner: Node's global fetch from the machine running ozg. */
export const fetchHttpWithGlobalFetch: FetchHttp = async (url: string, timeoutMs: number): Promise<HttpResponse> => {
  // One signal covers connecting, the headers and reading the body.
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: response.status, body: await response.text() };
};
