import { clearLine, cursorTo, moveCursor } from 'node:readline';
import { Writable } from 'node:stream';

/** A writable stream that keeps what was written, standing in for stdout/stderr. */
export class CaptureStream extends Writable {
  readonly chunks: string[] = [];
  isTTY?: boolean;
  columns?: number;

  constructor(options: { isTTY?: boolean; columns?: number } = {}) {
    super({ decodeStrings: false });
    this.isTTY = options.isTTY;
    this.columns = options.columns;
  }

  override _write(chunk: unknown, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.chunks.push(String(chunk));
    callback();
  }

  // what a tty.WriteStream offers, so a spinner can redraw (escape codes land in `chunks`)
  cursorTo(x: number): boolean {
    return cursorTo(this, x);
  }
  moveCursor(dx: number, dy: number): boolean {
    return moveCursor(this, dx, dy);
  }
  clearLine(dir: -1 | 0 | 1): boolean {
    return clearLine(this, dir);
  }

  get text(): string {
    return this.chunks.join('');
  }
}
