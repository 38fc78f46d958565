import type { ChalkInstance } from 'chalk';
import type { OzgEvent, Reporter } from '../events.js';
import { formatEventLine } from './format-event.js';

/** Logs and CI: one line per event on stderr, results on stdout; colour only when forced. */
export function createPlainReporter(streams: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }, style: ChalkInstance): Reporter {
  return {
    emit(event: OzgEvent) {
      streams.stderr.write(formatEventLine(event, style) + '\n');
    },
    result(_value: unknown, human: () => string) {
      writeResult(streams.stdout, human());
    },
    close() {},
    printsResultValue: false,
  };
}

export function writeResult(stdout: NodeJS.WritableStream, text: string): void {
  if (text === '') return;
  stdout.write(text.endsWith('\n') ? text : text + '\n');
}
