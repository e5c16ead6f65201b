import { spawn, spawnSync } from 'node:child_process';

/** Whether script(1) is here to give a command a terminal of its own. */
export const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

/**
 * Runs `node` with `args` on a terminal of its own, through script(1), and
 * types once what `answer(output so far)` returns (null: not yet), as a
 * person at the terminal would. Resolves to the exit code and all output.
 */
export function onTerminal(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  answer: (output: string) => string | null,
): Promise<{ code: number | null; output: string }> {
  // `exec`: node takes the shell's place, so Ctrl-C reaches node alone and
  // script(1) reports node's exit code, whichever shell $SHELL names (dash
  // would otherwise die of the SIGINT itself and report 130).
  const command = `exec ${[process.execPath, ...args].map((arg) => `'${arg.replaceAll("'", "'\\''")}'`).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { env: { ...env, SHELL: '/bin/sh' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (child.stdin.writableEnded) return;
      const typed = answer(output);
      if (typed !== null) child.stdin.end(typed);
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}
