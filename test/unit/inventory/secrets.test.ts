import { SecretUnavailableError } from '../../../src/errors.js';
import { describeSecretRef, lookUpSecret, resolveSecret, resolveSecrets } from '../../../src/inventory/secrets.js';
import type { SecretDeps } from '../../../src/inventory/secrets.js';

const SECRET = 'pa55-w0rd-do-not-show';

/** A fake file system: path → content, or an errno code to fail with. */
function createDeps(files: Record<string, string | { code: string }>, env: Record<string, string | undefined> = {}): SecretDeps & { reads: string[] } {
  const reads: string[] = [];
  return {
    env,
    reads,
    readFile: async (file) => {
      reads.push(file);
      const entry = files[file];
      if (entry === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
      if (typeof entry !== 'string') throw Object.assign(new Error(`${entry.code}: ${file}`), entry);
      return entry;
    },
  };
}

describe('resolveSecret', () => {
  it('reads an environment variable from the env passed in', async () => {
    await expect(resolveSecret({ env: 'KIEL_SMTP' }, createDeps({}, { KIEL_SMTP: SECRET }))).resolves.toBe(SECRET);
  });

  it('reads a file, dropping one trailing newline', async () => {
    await expect(resolveSecret({ file: '/s/kiel' }, createDeps({ '/s/kiel': `${SECRET}\n` }))).resolves.toBe(SECRET);
    await expect(resolveSecret({ file: '/s/kiel' }, createDeps({ '/s/kiel': `${SECRET}\n\n` }))).resolves.toBe(`${SECRET}\n`);
  });

  it('resolves a relative file from baseDir', async () => {
    const deps = { ...createDeps({ '/inv/secrets/kiel': SECRET }), baseDir: '/inv' };
    await expect(resolveSecret({ file: 'secrets/kiel' }, deps)).resolves.toBe(SECRET);
  });

  it.each([
    [{ env: 'UNSET' }, {}, {}, 'environment variable UNSET is not set'],
    [{ env: 'EMPTY' }, { EMPTY: '' }, {}, 'environment variable EMPTY is empty'],
    [{ file: '/s/missing' }, {}, {}, 'secret file /s/missing not found'],
    [{ file: '/s/empty' }, {}, { '/s/empty': '\n' }, 'secret file /s/empty is empty'],
    [{ file: '/s/locked' }, {}, { '/s/locked': { code: 'EACCES' } }, 'secret file /s/locked cannot be read (permission denied)'],
  ])('names the reference when %p cannot be resolved', async (ref, env, files, message) => {
    const error = await resolveSecret(ref, createDeps(files, env)).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(SecretUnavailableError);
    expect((error as Error).message).toBe(message);
    expect((error as SecretUnavailableError).exitCode).toBe(3);
  });

  it('never puts a value into a failure, even a file read error that quotes content', async () => {
    const deps = createDeps({ '/s/odd': { code: 'EIO' } });
    deps.readFile = async () => {
      throw Object.assign(new Error(`EIO while reading ${SECRET}`), { code: 'EIO' });
    };
    const lookup = await lookUpSecret({ file: '/s/odd' }, deps);
    expect(lookup).toEqual({ ok: false, reason: 'cannot be read (EIO)' });
  });

  it('resolves all of a setup by name', async () => {
    const deps = createDeps({ '/s/b': 'bee-secret' }, { A: 'ay-secret' });
    await expect(resolveSecrets({ a: { env: 'A' }, b: { file: '/s/b' } }, deps)).resolves.toEqual({ a: 'ay-secret', b: 'bee-secret' });
  });

  it('refuses values too short to be redacted from output, naming the reference only', async () => {
    const error = await resolveSecret({ env: 'PIN' }, createDeps({}, { PIN: '1234567' })).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(SecretUnavailableError);
    expect((error as Error).message).toBe('environment variable PIN is shorter than 8 characters, too short to be kept out of output');
    await expect(resolveSecret({ file: '/s/pin' }, createDeps({ '/s/pin': '12345678\n' }))).resolves.toBe('12345678');
  });

  it('describes references for messages', () => {
    expect(describeSecretRef({ env: 'X' })).toBe('environment variable X');
    expect(describeSecretRef({ file: './s' })).toBe('secret file ./s');
  });
});
