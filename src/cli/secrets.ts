// Tokens and certificate flags as the commands take them: a token from its file, else its
// environment variable; certificate and key flags that only make sense together.
import { readFile } from 'node:fs/promises';
import { UsageError } from './output.js';

/** The trimmed content of `file` (given as `flag`), else the first non-empty variable of `envs`. */
export async function readToken(file: string | undefined, flag: string, envs: readonly string[]): Promise<string | undefined> {
  if (file === undefined) return envs.map((e) => process.env[e]).find((v) => !!v);
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).trim();
  } catch (e) {
    throw new UsageError(`cannot read ${flag} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (text === '') throw new UsageError(`${flag} ${file} is empty`);
  return text;
}

/** A certificate and its key, given together or not at all. */
export function certAndKey(cert: string | undefined, key: string | undefined, certFlag: string, keyFlag: string): { certFile: string; keyFile: string } | undefined {
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) throw new UsageError(`${certFlag} and ${keyFlag} go together`);
  return { certFile: cert, keyFile: key };
}

/** Called when what `flag` needs is missing: refuses `flag` if it was given. */
export function refuseWithout(value: unknown, flag: string, needed: string): void {
  if (value !== undefined && value !== false) throw new UsageError(`${flag} needs ${needed}`);
}
