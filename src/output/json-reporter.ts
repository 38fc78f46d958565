import type { OzgEvent, Reporter } from '../events.js';
import { stringifyJson } from './escape-control.js';

/** `--json`: one JSON object per line on stdout, events and the final result alike; nothing else. */
export function createJsonReporter(stdout: NodeJS.WritableStream): Reporter {
  const writeLine = (value: unknown) => stdout.write(stringifyJson(value) + '\n');
  return {
    emit(event: OzgEvent) {
      writeLine(event);
    },
    result(value: unknown) {
      writeLine({ type: 'result', result: value });
    },
    close() {},
    printsResultValue: true,
  };
}
