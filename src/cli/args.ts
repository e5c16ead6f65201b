import { InvalidOptionError } from '../errors.js';

// Checks of command-line values shared by the commands. Each throws an
// InvalidOptionError naming the flag, before any connection is made.

/** A whole number ≥ 1, or undefined when the flag was not given. */
export function optionalWholeNumber(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1) {
    throw new InvalidOptionError(`${flag} must be a whole number ≥ 1; got ${JSON.stringify(text)}`);
  }
  return Number(text);
}
