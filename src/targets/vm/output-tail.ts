/**
 * The end of a command's output, bounded: a smoke check or hook printing hundreds of megabytes
 * must not grow ozg's memory with it (200 MB of output once took ozg from 89 MB to 941 MB).
 * What matters is the end (the failure, the protocol lines the release scripts print last),
 * so the newest bytes are kept and the dropped ones are counted.
 */

/** Bytes kept of each of stdout and stderr per command. */
export const OUTPUT_TAIL_BYTES = 64 * 1024;

export interface OutputTail {
  push(chunk: Buffer): void;
  /** bytes seen but not kept */
  readonly droppedBytes: number;
  /** the kept bytes as text, led by a `… N bytes dropped` line when some were dropped */
  text(): string;
}

export function createOutputTail(limit: number = OUTPUT_TAIL_BYTES): OutputTail {
  let chunks: Buffer[] = [];
  let kept = 0;
  let dropped = 0;
  return {
    push(chunk) {
      if (chunk.length === 0) return;
      if (chunk.length >= limit) {
        // copied: a slice would pin the whole (possibly large) chunk in memory
        dropped += kept + chunk.length - limit;
        chunks = [Buffer.from(chunk.subarray(chunk.length - limit))];
        kept = limit;
        return;
      }
      chunks.push(chunk);
      kept += chunk.length;
      while (kept > limit) {
        const excess = kept - limit;
        const first = chunks[0]!;
        if (first.length <= excess) {
          chunks.shift();
          kept -= first.length;
          dropped += first.length;
        } else {
          chunks[0] = Buffer.from(first.subarray(excess));
          kept -= excess;
          dropped += excess;
        }
      }
    },
    get droppedBytes() {
      return dropped === 0 ? 0 : dropped + partialCharacterBytes(Buffer.concat(chunks.slice(0, 3)));
    },
    text() {
      const bytes = Buffer.concat(chunks, kept);
      if (dropped === 0) return bytes.toString('utf8');
      // the cut may fall inside a multi-byte character: start at the next whole one
      const skip = partialCharacterBytes(bytes);
      return `… ${dropped + skip} bytes dropped\n${bytes.subarray(skip).toString('utf8')}`;
    },
  };
}

/** UTF-8 continuation bytes at the start (at most 3): the rest of a character cut off in front. */
function partialCharacterBytes(bytes: Buffer): number {
  let skip = 0;
  while (skip < 3 && skip < bytes.length && (bytes[skip]! & 0xc0) === 0x80) skip++;
  return skip;
}

/** The ExecResult fields for what the tails dropped; none when nothing was. */
export function droppedCounts(stdout: OutputTail, stderr: OutputTail): { stdoutDroppedBytes?: number; stderrDroppedBytes?: number } {
  return {
    ...(stdout.droppedBytes > 0 ? { stdoutDroppedBytes: stdout.droppedBytes } : {}),
    ...(stderr.droppedBytes > 0 ? { stderrDroppedBytes: stderr.droppedBytes } : {}),
  };
}
