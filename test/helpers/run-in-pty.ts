import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ozgBin } from './run-ozg.js';
import { quoteShell } from '../../src/shell-quote.js';

const SCRIPT = '/usr/bin/script';

export interface PtyRun {
  code: number | null;
  /** everything the terminal showed (stdout and stderr together), CR LF made LF */
  screen: string;
}

/**
 * Runs bin/ozg.js on a pseudo-terminal (util-linux `script`), as a person at a terminal sees it:
 * stdin, stdout and stderr are a TTY, CI is unset. `input` is typed once the screen shows `waitFor`.
 */
export function runOzgInPty(args: string[], options: { cwd: string; input?: { waitFor: string; text: string } }): Promise<PtyRun> {
  if (!existsSync(SCRIPT)) throw new Error(`${SCRIPT} is missing: install it with \`apt-get install util-linux\``);
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', TERM: 'xterm' };
  delete env.CI;
  delete env.OZG_INVENTORY;
  // a new pty reports 0 columns, which no real terminal does (and ora's redraw would not survive)
  const command = `stty cols 120 rows 40 && exec ${[process.execPath, ozgBin, ...args].map(quoteShell).join(' ')}`;
  // -e: script exits with the command's code; -q: no "Script started" banner; log to /dev/null
  const child = spawn(SCRIPT, ['-q', '-e', '-c', command, '/dev/null'], { cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  let typed = false;
  child.stdout.on('data', (data) => {
    screen += String(data);
    if (options.input && !typed && screen.includes(options.input.waitFor)) {
      typed = true;
      child.stdin.write(options.input.text);
    }
  });
  child.stderr.on('data', (data) => (screen += String(data)));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, screen: screen.replace(/\r\n/g, '\n') }));
  });
}
