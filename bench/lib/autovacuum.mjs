// W8 measures what autovacuum at PostgreSQL's defaults makes of the job
// tables. Servers set up for tests often run with it off (this project's CI
// machines do, in a conf.d file): without it, nothing ever cleans the dead
// rows a queue leaves, and W8 would measure a server nobody runs in
// production. So for W8 the runner turns it on (ALTER SYSTEM and a reload,
// which needs a superuser) and puts the server's own setting back after.

const READY_TIMEOUT_MS = 10_000;

/**
 * Makes sure autovacuum runs during W8. `mode` is 'on' (turn it on if it is
 * off) or 'as-is'. Resolves to { state, restore() }: `state` says what W8
 * ran with, for the results; `restore` puts back what was changed.
 */
export async function autovacuumForW8(db, mode, warn) {
  const { rows } = await db.query(`SELECT setting, sourcefile FROM pg_settings WHERE name = 'autovacuum'`);
  const { setting, sourcefile } = rows[0];
  const none = async () => {};
  if (setting === 'on') return { state: 'on', restore: none };
  if (mode === 'as-is') {
    warn(`autovacuum is off on this server (${sourcefile ?? 'its configuration'}); W8 runs without it (--autovacuum=as-is)`);
    return { state: 'off', restore: none };
  }
  // A value set by an earlier ALTER SYSTEM is put back as it was; otherwise the line is removed.
  const earlier = sourcefile?.endsWith('postgresql.auto.conf') ? setting : null;
  try {
    await db.query('ALTER SYSTEM SET autovacuum = on');
    await db.query('SELECT pg_reload_conf()');
    await waitForSetting(db, 'on');
  } catch (error) {
    warn(`autovacuum is off on this server and could not be turned on (${error.message}); W8 runs without it`);
    return { state: 'off', restore: none };
  }
  console.log(`autovacuum was off on this server (${sourcefile}): on for W8, put back after the run`);
  let restored = false;
  return {
    state: 'on (turned on for this run)',
    async restore() {
      if (restored) return;
      restored = true;
      await db.query(earlier === null ? 'ALTER SYSTEM RESET autovacuum' : `ALTER SYSTEM SET autovacuum = ${earlier}`);
      await db.query('SELECT pg_reload_conf()');
    },
  };
}

// A reload reaches sessions (and the postmaster, which starts the launcher) a moment later.
async function waitForSetting(db, value) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const client = await db.connect();
    try {
      if ((await client.query('SHOW autovacuum')).rows[0].autovacuum === value) return;
    } finally {
      client.release(true); // a new session next time: it reads the reloaded file
    }
    if (Date.now() > deadline) throw new Error(`autovacuum still not ${value} ${READY_TIMEOUT_MS / 1000} s after the reload`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
