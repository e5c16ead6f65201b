import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { databaseUrl } from './database.js';

const workerScript = fileURLToPath(new URL('../fixtures/worker-process.js', import.meta.url));

/** A worker running in a child process, with its output lines observable. */
export interface ChildWorker {
  child: ChildProcess;
  lines: string[];
  /** Resolves when the child has printed a line matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startChildWorker(env: {
  SCHEMA: string;
  QUEUE: string;
  JOB_MS: number;
  MODE?: 'transaction' | 'lease';
  SCHEDULE?: string;
}): ChildWorker {
  const child = spawn(process.execPath, [workerScript], {
    env: { ...process.env, DATABASE_URL: databaseUrl(), ...env, JOB_MS: String(env.JOB_MS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  let buffer = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      lines.push(line);
      for (const waiter of waiters.filter((w) => w.pattern.test(line))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    lines,
    exited,
    waitForLine(pattern, timeoutMs = 15_000) {
      const seen = lines.find((line) => pattern.test(line));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`child printed no line matching ${pattern} within ${timeoutMs} ms; got ${JSON.stringify(lines)}`)),
          timeoutMs,
        );
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
  };
}

/**
 * Runs the job waiting on `queue` in `runs` child workers in turn, killing
 * each (SIGKILL) as soon as its handler has started: a job that crashes
 * every process that runs it.
 */
export async function crashEveryRun(options: {
  schema: string;
  queue: string;
  runs: number;
  mode?: 'transaction' | 'lease';
}): Promise<void> {
  for (let run = 1; run <= options.runs; run++) {
    const child = startChildWorker({
      SCHEMA: options.schema,
      QUEUE: options.queue,
      JOB_MS: -1,
      ...(options.mode ? { MODE: options.mode } : {}),
    });
    await child.waitForLine(/^started /);
    child.child.kill('SIGKILL');
    await child.exited;
  }
}
