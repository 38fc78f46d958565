/** Container logs, which the real cluster keeps on nodes and the fake one keeps here. */
export class PodLogs {
  private readonly logs = new Map<string, Map<string, { text: string; at: number }>>();

  set(namespace: string, pod: string, container: string, text: string, at = Date.now()): void {
    const key = `${namespace}/${pod}`;
    if (!this.logs.has(key)) this.logs.set(key, new Map());
    this.logs.get(key)!.set(container, { text, at });
  }

  get(namespace: string, pod: string, container: string): { text: string; at: number } | undefined {
    return this.logs.get(`${namespace}/${pod}`)?.get(container);
  }

  delete(namespace: string, pod: string): void {
    this.logs.delete(`${namespace}/${pod}`);
  }
}

export interface LogQuery {
  tailLines?: number;
  limitBytes?: number;
  timestamps?: boolean;
}

/** Apply tailLines / timestamps / limitBytes the way the kubelet does, in that order. */
export function renderLog(entry: { text: string; at: number }, query: LogQuery): string {
  let lines = entry.text === '' ? [] : entry.text.replace(/\n$/, '').split('\n');
  if (query.tailLines !== undefined) lines = query.tailLines <= 0 ? [] : lines.slice(-query.tailLines);
  if (query.timestamps) {
    const stamp = new Date(entry.at).toISOString().replace('Z', '000000Z');
    lines = lines.map((l) => `${stamp} ${l}`);
  }
  let text = lines.length === 0 ? '' : lines.join('\n') + '\n';
  if (query.limitBytes !== undefined) text = Buffer.from(text).subarray(0, query.limitBytes).toString();
  return text;
}
