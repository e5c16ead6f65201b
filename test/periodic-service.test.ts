import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LogData, LogEvent } from 'proletarian';
import { deferred, recordingLogger } from './helpers/database.js';

// The base of a worker's background services (retention now; schedules next).
// Internal, so loaded from the build; its types come from the build's declarations.
type ServiceModule = typeof import('../dist/worker/services/periodic-service.js');
type LogModule = typeof import('../dist/log.js');

describe('PeriodicService', () => {
  let PeriodicService: ServiceModule['PeriodicService'];
  let createEmitter: LogModule['createEmitter'];
  // The service's timers do not keep a process alive; in this file nothing
  // else would, so the process would end while a test waits for a round.
  let keepAlive: NodeJS.Timeout;
  before(() => void (keepAlive = setInterval(() => {}, 60_000)));
  after(() => clearInterval(keepAlive));
  before(async () => {
    ({ PeriodicService } = (await import(
      new URL('../../dist/worker/services/periodic-service.js', import.meta.url).href
    )) as ServiceModule);
    ({ createEmitter } = (await import(new URL('../../dist/log.js', import.meta.url).href)) as LogModule);
  });

  /** A task whose rounds the test ends, one by one. */
  function steppedTask() {
    const rounds: { signal: AbortSignal; end: (error?: Error) => void }[] = [];
    const started: ((count: number) => void)[] = [];
    const task = {
      intervalMs: 1,
      firstRoundMs: 1,
      errorEvent: 'retention-error' as LogEvent,
      run: (signal: AbortSignal) => {
        const round = deferred();
        rounds.push({ signal, end: (error) => (error ? round.reject(error) : round.resolve()) });
        started.splice(0).forEach((notify) => notify(rounds.length));
        return round.promise;
      },
    };
    /** Resolves once round number `n` (1-based) has started. */
    const roundStarted = (n: number) =>
      rounds.length >= n
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const check = (count: number) => (count >= n ? resolve() : started.push(check));
            started.push(check);
          });
    return { task, rounds, roundStarted };
  }

  it('runs rounds one after another, logs a failed round with its error event and goes on', async () => {
    const log = recordingLogger();
    const { task, rounds, roundStarted } = steppedTask();
    const service = new PeriodicService(task, createEmitter(log, { workerId: 'w' }));
    service.start();
    await roundStarted(1);
    rounds[0]!.end(new Error('database down'));
    await roundStarted(2);
    assert.deepEqual(
      log.events.map(({ event, data }) => [event, (data['error'] as LogData)['message']]),
      [['retention-error', 'database down']],
    );
    assert.equal(rounds.length, 2, 'the next round waited for the failed one to end');
    rounds[1]!.end();
    await roundStarted(3);
    const stopped = service.stop();
    assert.ok(rounds[2]!.signal.aborted, "stop() aborts the round in progress through its signal");
    let settled = false;
    void stopped.then(() => (settled = true));
    await Promise.resolve();
    assert.equal(settled, false, 'stop() waits for the round in progress');
    rounds[2]!.end();
    await stopped;
  });

  it('starts again after stop(), with a fresh signal', async () => {
    const { task, rounds, roundStarted } = steppedTask();
    const service = new PeriodicService(task, createEmitter(recordingLogger(), {}));
    service.start();
    service.start(); // a second start() while running changes nothing
    await roundStarted(1);
    rounds[0]!.end();
    await service.stop();
    service.start();
    await roundStarted(2);
    assert.equal(rounds[1]!.signal.aborted, false);
    const stopped = service.stop();
    rounds[1]!.end();
    await stopped;
  });
});
