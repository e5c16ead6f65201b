import { parseArgs } from 'node:util';
import { InvalidOptionError } from '../errors.js';
import type { TableOptions } from '../tables.js';

// The command line of every command: which options it takes, its help, and
// parsing that names a mistyped flag and points at the command's --help.

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** `--name <value>` in the help; booleans have none. */
  readonly value?: string;
  readonly help: string;
}

export interface CommandSpec {
  /** `jobs list`, `prune`, … as typed. */
  readonly name: string;
  /** What follows the name in the usage line, e.g. `<id> [options]`. */
  readonly synopsis: string;
  /** One line for the list of commands. */
  readonly summary: string;
  /** One paragraph: what the command does. */
  readonly description: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Whether it reads the database (so the common connection options apply). */
  readonly connects: boolean;
}

/** Options every command that connects takes. */
export const CONNECTION_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  'database-url': { type: 'string', value: '<url>', help: 'PostgreSQL connection string (default: $DATABASE_URL)' },
  schema: { type: 'string', value: '<name>', help: 'Schema of the tables (default: proletarian)' },
  'job-table': { type: 'string', value: '<name>', help: 'Job table (default: job)' },
  'archived-job-table': { type: 'string', value: '<name>', help: 'Archived-job table (default: archived_job)' },
};

const HELP_OPTION: Readonly<Record<string, OptionSpec>> = {
  help: { type: 'boolean', short: 'h', help: 'Show this help' },
};

/** `--json`, for every command that reads (`stats`, which also takes --watch, says more). */
export const JSON_OPTION: Readonly<Record<string, OptionSpec>> = {
  json: { type: 'boolean', help: 'Print JSON (one document)' },
};

export type Values = Readonly<Record<string, string | boolean | undefined>>;

export interface Parsed {
  readonly values: Values;
  /** The arguments after the command's name. */
  readonly positionals: readonly string[];
}

/** Parses the arguments after the command's name; unknown flags and missing values throw an InvalidOptionError that says what to do. */
export function parseCommandLine(spec: CommandSpec, args: readonly string[]): Parsed {
  const all = allOptions(spec);
  const options = Object.fromEntries(
    Object.entries(all).map(([name, o]) => [name, o.short === undefined ? { type: o.type } : { type: o.type, short: o.short }]),
  );
  try {
    const { values, positionals } = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
    return { values: values as Values, positionals };
  } catch (error) {
    throw explainParseError(spec, all, error);
  }
}

function allOptions(spec: CommandSpec): Record<string, OptionSpec> {
  return { ...spec.options, ...(spec.connects ? CONNECTION_OPTIONS : {}), ...HELP_OPTION };
}

function explainParseError(spec: CommandSpec, options: Record<string, OptionSpec>, error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const seeHelp = `see \`proletarian ${spec.name} --help\``;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const flag = /'([^']+)'/.exec(message)?.[1] ?? message;
    const suggestion = closest(flag.replace(/^-+/, '').split('=')[0]!, Object.keys(options));
    const hint = suggestion === null ? '' : `; did you mean --${suggestion}?`;
    return new InvalidOptionError(`${spec.name}: unknown option ${flag}${hint} (${seeHelp})`, { cause: error });
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const flag = /--[\w-]+/.exec(message)?.[0] ?? message;
    const name = flag.slice(2);
    const what = options[name]?.type === 'boolean' ? 'takes no value' : `needs a value, e.g. ${flag} ${options[name]?.value ?? '<value>'}`;
    return new InvalidOptionError(`${spec.name}: ${flag} ${what} (${seeHelp})`, { cause: error });
  }
  return error;
}

/** The known option nearest to a mistyped one, when it is near enough to be a typo. */
function closest(typed: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const name of known) {
    const d = editDistance(typed, name);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(1, Math.floor(typed.length / 3)) ? best : null;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The help of one command: usage line, what it does, its options, then the common ones. */
export function commandHelp(spec: CommandSpec): string {
  const lines = [`Usage: proletarian ${spec.name} ${spec.synopsis}`.trimEnd(), '', ...wrap(spec.description, 78), ''];
  const own = Object.entries(spec.options);
  if (own.length > 0) lines.push('Options:', ...optionLines(own), '');
  lines.push(spec.connects ? 'Connection options:' : 'Other options:');
  lines.push(...optionLines(Object.entries({ ...(spec.connects ? CONNECTION_OPTIONS : {}), ...HELP_OPTION })), '');
  return `${lines.join('\n')}\n`;
}

function optionLines(options: [string, OptionSpec][]): string[] {
  const column = 30;
  const out: string[] = [];
  for (const [name, o] of options) {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.value ? ` ${o.value}` : ''}`;
    const [first = '', ...rest] = wrap(o.help, 78 - column - 2);
    const head = `  ${flag}`;
    out.push(head.length < column ? `${head.padEnd(column)}${first}` : `${head}\n${' '.repeat(column)}${first}`);
    for (const line of rest) out.push(`${' '.repeat(column)}${line}`);
  }
  return out;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

export function stringValue(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function flag(values: Values, name: string): boolean {
  return values[name] === true;
}

export function tablesOf(values: Values): TableOptions {
  return {
    schema: stringValue(values, 'schema'),
    jobTable: stringValue(values, 'job-table'),
    archivedJobTable: stringValue(values, 'archived-job-table'),
  };
}
