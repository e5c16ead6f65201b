// What the commands print: tables for people, JSON for scripts, and a
// progress line for long operations.

/** Rows under a header, each column as wide as its widest cell, two spaces apart. */
export function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  process.stdout.write(formatTable(header, rows));
}

export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((row) => `${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()}\n`).join('');
}

/** One JSON document on stdout, indented, dates as ISO strings. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * The progress of a long operation, on stderr so that stdout carries only the
 * result. On a terminal one line is rewritten in place (carriage return); elsewhere
 * each update is a line of its own, so a log keeps them.
 */
export class Progress {
  readonly #stream: NodeJS.WriteStream;
  readonly #tty: boolean;
  #shown = false;

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.#stream = stream;
    this.#tty = stream.isTTY === true;
  }

  /** `done` of `total` (null when unknown), with what is counted, e.g. `deleted`. */
  update(label: string, done: number, total: number | null): void {
    const text = total === null ? `${label} ${done}` : `${label} ${done}/${total}${bar(done, total)}`;
    if (this.#tty) {
      this.#stream.write(`\r\x1b[2K${text}`);
      this.#shown = true;
    } else {
      this.#stream.write(`${text}\n`);
    }
  }

  /** Ends the progress line (on a terminal), before the result is printed. */
  end(): void {
    if (this.#tty && this.#shown) this.#stream.write('\n');
    this.#shown = false;
  }
}

function bar(done: number, total: number): string {
  if (total <= 0) return '';
  const fraction = Math.min(1, done / total);
  const width = 30;
  const filled = Math.round(fraction * width);
  return ` [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.floor(fraction * 100)}%`;
}
