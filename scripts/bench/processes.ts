/** Starting and measuring forny's own processes for the benchmarks that load them from outside. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });

/**
 * Starts `node ARGS…` (a TypeScript entry point through `--import tsx`, or compiled JavaScript) and
 * waits until its output matches `ready`; its pid is the server's own, so its CPU can be read.
 */
export async function startProcess(args: readonly string[], env: Record<string, string>, ready: RegExp): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start within 30 s: ${seen.slice(-500)}`)), 30_000);
    const look = (chunk: Buffer) => {
      if (seen.length < 100_000) seen += chunk.toString();
      if (ready.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', look);
    child.stderr?.on('data', look);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code}: ${seen.slice(-500)}`));
    });
  });
  // Keep draining its output so a full pipe never stalls it (into BENCH_CHILD_OUTPUT when set, for profiling).
  child.stdout?.removeAllListeners('data');
  child.stderr?.removeAllListeners('data');
  const keep = process.env.BENCH_CHILD_OUTPUT;
  if (keep) {
    const sink = createWriteStream(keep, { flags: 'a' });
    child.stdout?.pipe(sink);
    child.stderr?.pipe(sink);
  } else {
    child.stdout?.resume();
    child.stderr?.resume();
  }
  return child;
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export const rssMb = (pid: number | undefined): number => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
};

/** CPU seconds (user + system) the process has used so far: a cost per request that other load on the machine does not move. */
export const cpuSeconds = (pid: number | undefined): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

/** Runs `node ARGS…` to its end; throws with its output if it does not exit 0. */
export async function runToEnd(args: readonly string[], env: Record<string, string>): Promise<void> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${args.join(' ')} exited with ${code}: ${output.slice(-500)}`);
}
