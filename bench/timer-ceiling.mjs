#!/usr/bin/env node
// The most W8's 1 ms jobs can complete per second at a given concurrency,
// with no queue at all: `concurrency` loops in one process, each awaiting
// `setTimeout(handlerMs)` back to back, as W8's handlers do. No system can
// complete more; a W8 completion rate reads best as a share of this.
//
//   node bench/timer-ceiling.mjs [--concurrency=16] [--handler-ms=1] [--seconds=5]

import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

const { values } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '16' },
    'handler-ms': { type: 'string', default: '1' },
    seconds: { type: 'string', default: '5' },
  },
});
const concurrency = Number(values.concurrency);
const handlerMs = Number(values['handler-ms']);
const seconds = Number(values.seconds);

let done = 0;
const end = performance.now() + seconds * 1000;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      await sleep(handlerMs);
      done++;
    }
  }),
);
console.log(`${concurrency} loops of ${handlerMs} ms timers: ${Math.round(done / seconds).toLocaleString('en-US')} per second`);
