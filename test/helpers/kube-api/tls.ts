import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * A throw-away certificate authority and a server certificate signed by it, made with the
 * openssl CLI (node:crypto cannot sign X.509 certificates). P-256 keys, valid for two days.
 */

const run = promisify(execFile);
const INSTALL_STEP = 'apt-get install -y openssl';

export interface CertificateAuthority {
  certFile: string;
  keyFile: string;
  certPem: string;
}

export interface ServerCertificate {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`the fake Kubernetes API server needs the openssl CLI to make its certificates: ${INSTALL_STEP}`);
    throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? e.message}`);
  }
}

function serial(): string {
  return `0x${randomBytes(16).toString('hex').replace(/^[89a-f]/, '1')}`;
}

export async function createCertificateAuthority(dir: string, name: string): Promise<CertificateAuthority> {
  const keyFile = path.join(dir, `${name}.key`);
  const certFile = path.join(dir, `${name}.crt`);
  await openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/O=ozg tests/CN=${name}`, '-set_serial', serial(),
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { certFile, keyFile, certPem: await readFile(certFile, 'utf8') };
}

export interface IssueServerCertificateOptions {
  ipAddresses: string[];
  dnsNames: string[];
}

export async function issueServerCertificate(ca: CertificateAuthority, dir: string, name: string, options: IssueServerCertificateOptions): Promise<ServerCertificate> {
  const keyFile = path.join(dir, `${name}.key`);
  const csrFile = path.join(dir, `${name}.csr`);
  const certFile = path.join(dir, `${name}.crt`);
  const extFile = path.join(dir, `${name}.ext`);
  const altNames = [...options.ipAddresses.map((ip) => `IP:${ip}`), ...options.dnsNames.map((dns) => `DNS:${dns}`)].join(',');
  await writeFile(extFile, [`subjectAltName=${altNames}`, 'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth', ''].join('\n'));
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csrFile, '-subj', `/O=ozg tests/CN=${name}`]);
  await openssl(['x509', '-req', '-in', csrFile, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', serial(), '-days', '2', '-sha256', '-extfile', extFile, '-out', certFile]);
  return { certFile, keyFile, certPem: await readFile(certFile, 'utf8'), keyPem: await readFile(keyFile, 'utf8') };
}
