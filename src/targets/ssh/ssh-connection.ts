import type { Hop, Ssh2Client } from './ssh-connect.js';

/** An open connection (through the bastion, if any) and the execs running on it. */
export interface Connection {
  client: Ssh2Client;
  bastion?: Ssh2Client;
  /** set once the connection is gone; later execs open a new one */
  lost?: string;
  /** rejecters of execs running on this connection, called when it drops */
  running: Set<(reason: string) => void>;
}

/** Marks the connection lost when `client` (one of its hops) closes, naming the last error it saw. */
export function watchConnection(connection: Connection, client: Ssh2Client, hop: Hop, onLost: (connection: Connection, reason: string) => void): void {
  let lastError: Error | undefined;
  // Without an 'error' listener a reset connection would crash the whole process.
  client.on('error', (error) => {
    lastError = error;
  });
  client.on('close', () => onLost(connection, `connection to ${hop.label} closed${lastError ? `: ${lastError.message}` : ''}`));
}

/** Fails every exec running on the connection and closes both hops; false when it was lost already. */
export function markLost(connection: Connection, reason: string): boolean {
  if (connection.lost) return false;
  connection.lost = reason;
  for (const reject of connection.running) reject(reason);
  connection.running.clear();
  // The other hop is useless now: a dead bastion strands the target connection and vice versa.
  connection.client.destroy();
  connection.bastion?.destroy();
  return true;
}

/** Ends the connection politely; one that does not close within 2 s is dropped. */
export async function endConnection(connection: Connection, targetLabel: string): Promise<void> {
  if (connection.lost) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      markLost(connection, `connection to ${targetLabel} closed by ozg`);
      resolve();
    }, 2_000);
    connection.client.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
    connection.client.end();
  });
  connection.bastion?.end();
}
