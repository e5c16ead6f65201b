import readline from 'node:readline';

/** How a destructive command goes on, once it has said what it would do. */
export type Decision = 'proceed' | 'dry-run' | 'declined' | 'needs-yes';

/**
 * Whether to go ahead: `--dry-run` never does, `--yes` always does, and
 * otherwise the person at the terminal is asked `question`. Without a
 * terminal there is no one to ask, so a script must say `--yes`.
 */
export async function decide(flags: { yes: boolean; dryRun: boolean }, question: string): Promise<Decision> {
  if (flags.dryRun) return 'dry-run';
  if (flags.yes) return 'proceed';
  if (!process.stdin.isTTY) return 'needs-yes';
  return (await ask(question)) ? 'proceed' : 'declined';
}

// On stderr, so that stdout carries only what the command did.
function ask(question: string): Promise<boolean> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
    let answered = false;
    const finish = (yes: boolean) => {
      if (answered) return;
      answered = true;
      rl.close();
      resolve(yes);
    };
    // Ctrl-C or end of input is a no.
    rl.on('SIGINT', () => {
      process.stderr.write('\n');
      finish(false);
    });
    rl.on('close', () => finish(false));
    rl.question(`${question} [y/N] `, (answer) => finish(/^y(es)?$/i.test(answer.trim())));
  });
}
