/** Whether `error` is a Node.js system error (fs, net, process) with this errno code, e.g. `ENOENT`. */
export function isErrnoCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}
