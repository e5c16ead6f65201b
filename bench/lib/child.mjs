// The runner's side of a trial process: fork bench/child.mjs, talk to it over
// IPC, and make sure it is gone afterwards.

import { fork } from 'node:child_process';
import path from 'node:path';
import { BENCH_DIR } from './env.mjs';

const live = new Set();

/** Every child still running; the runner kills them on SIGINT/SIGTERM. */
export function liveChildren() {
  return [...live];
}

/**
 * Starts a trial process and hands it `spec`. Returns helpers to wait for its
 * messages (buffered, so none is missed), send it messages, and stop it.
 */
export function startChild(spec) {
  const proc = fork(path.join(BENCH_DIR, 'child.mjs'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: process.env,
    execArgv: process.env.BENCH_CHILD_ARGS ? process.env.BENCH_CHILD_ARGS.split(' ') : undefined,
  });
  live.add(proc);
  // A message sent as the process exits fails with an 'error' event; its exit is reported instead.
  proc.on('error', () => {});
  const inbox = [];
  const waiters = [];
  const subscribers = new Map();
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      live.delete(proc);
      exitInfo = { code, signal };
      for (const w of waiters.splice(0)) w.reject(new Error(`trial process exited (${signal ?? code}) while waiting for "${w.type}"`));
      resolve(exitInfo);
    });
  });
  proc.on('message', (message) => {
    if (message?.type === 'error') {
      const error = new Error(`trial process failed: ${message.message}`);
      error.childStack = message.stack;
      for (const w of waiters.splice(0)) w.reject(error);
      inbox.push(message);
      return;
    }
    const subscriber = subscribers.get(message?.type);
    if (subscriber) return subscriber(message);
    const index = waiters.findIndex((w) => w.type === message?.type);
    if (index >= 0) waiters.splice(index, 1)[0].resolve(message);
    else inbox.push(message);
  });
  proc.send({ type: 'spec', spec });

  return {
    pid: proc.pid,
    exited,
    send(message) {
      if (proc.connected) proc.send(message);
    },
    /** Calls fn for every later message of this type, instead of keeping it for waitFor (W8's progress counts). */
    on(type, fn) {
      subscribers.set(type, fn);
    },
    /** Resolves with the next message of this type; rejects on timeout, error or exit. */
    waitFor(type, timeoutMs) {
      const failed = inbox.find((m) => m.type === 'error');
      if (failed) return Promise.reject(new Error(`trial process failed: ${failed.message}`));
      const index = inbox.findIndex((m) => m.type === type);
      if (index >= 0) return Promise.resolve(inbox.splice(index, 1)[0]);
      if (exitInfo) return Promise.reject(new Error(`trial process exited (${exitInfo.signal ?? exitInfo.code}) before "${type}"`));
      return new Promise((resolve, reject) => {
        const waiter = { type, resolve, reject };
        let timer;
        if (timeoutMs !== undefined) {
          timer = setTimeout(() => {
            waiters.splice(waiters.indexOf(waiter), 1);
            reject(new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for "${type}"`));
          }, timeoutMs);
        }
        waiter.resolve = (m) => (clearTimeout(timer), resolve(m));
        waiter.reject = (e) => (clearTimeout(timer), reject(e));
        waiters.push(waiter);
      });
    },
    /** Why the process can no longer finish its trial (an error it reported, or its exit), else null. */
    failure() {
      const failed = inbox.find((m) => m.type === 'error');
      if (failed) return `trial process failed: ${failed.message}`;
      if (exitInfo) return `trial process exited (${exitInfo.signal ?? exitInfo.code})`;
      return null;
    },
    /** The stack of the error the process reported, if it reported one. */
    errorStack() {
      return inbox.find((m) => m.type === 'error')?.stack ?? null;
    },
    /** Ends the process: SIGTERM, then SIGKILL after `graceMs`. */
    async kill(graceMs = 3_000) {
      if (exitInfo) return exitInfo;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const info = await exited;
      clearTimeout(timer);
      return info;
    },
  };
}
