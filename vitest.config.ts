import { defineConfig } from 'vitest/config';

// Only the Vitest examples; the rest of the suite runs on node:test.
export default defineConfig({
  test: { include: ['test/vitest/**/*.vitest.ts'] },
});
