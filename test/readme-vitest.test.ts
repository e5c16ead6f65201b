import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

// The README's Vitest example is the file Vitest runs (test/vitest/, run by
// test/vitest.test.ts), below its header comment: the two cannot drift apart.

const root = new URL('../../', import.meta.url);

describe("the README's Vitest example", () => {
  it('is test/vitest/testing.vitest.ts, character for character', () => {
    const readme = readFileSync(new URL('README.md', root), 'utf8');
    const example = /\nWith Vitest, [^\n]*(?:\n[^\n`]+)*\n\n```ts\n([\s\S]*?)```\n/.exec(readme)?.[1];
    assert.ok(example, 'the README has a Vitest example');
    const file = readFileSync(new URL('test/vitest/testing.vitest.ts', root), 'utf8');
    const code = file.replace(/^(\/\/[^\n]*\n)+/, '');
    assert.match(file, /^\/\/ .*the README's Vitest example/, 'the file says what it is');
    assert.equal(example, code);
  });
});
