import { ConfigError, loadConfig, readEnvironment, type Config } from '../src/config.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Prints one line on stderr and exits non-zero: how every command's expected failure ends (no stack trace). */
export function stopWith(line: string): never {
  process.stderr.write(`${line}\n`);
  process.exit(1);
}

/** Reads `.env` and the environment; on a bad variable prints the one line and exits 1. */
export function configOrExit(env: Env = readEnvironment()): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) stopWith(error.message);
    throw error;
  }
}
