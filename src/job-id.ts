import { randomFillSync } from 'node:crypto';

// UUIDv7 (RFC 9562): a millisecond timestamp followed by randomness. Ids made
// in one process are strictly increasing, which keeps the primary-key index
// append-mostly and lets the claim break ties in enqueue order.
let lastMs = 0;
let counter = 0;
const random = Buffer.alloc(8 * 1024);
let randomOffset = random.length;

function randomBytes(count: number): Buffer {
  if (randomOffset + count > random.length) {
    randomFillSync(random);
    randomOffset = 0;
  }
  const bytes = random.subarray(randomOffset, randomOffset + count);
  randomOffset += count;
  return bytes;
}

/** A new, time-ordered job id (UUIDv7). */
export function newJobId(): string {
  let ms = Date.now();
  if (ms > lastMs) {
    lastMs = ms;
    // Start each millisecond low in the 12-bit counter so it rarely overflows.
    counter = randomBytes(1)[0]! & 0x3ff;
  } else {
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      // More than ~3k ids in one millisecond: borrow the next one.
      lastMs = ms = lastMs + 1;
      counter = 0;
    }
  }
  const bytes = Buffer.alloc(16);
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | (counter >> 8);
  bytes[7] = counter & 0xff;
  randomBytes(8).copy(bytes, 8);
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
