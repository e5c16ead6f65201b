// W7, the ceiling: the least SQL proletarian's design needs, with no library
// around it. `concurrency` loops (proletarian's), each on a connection of its
// own, repeat one transaction: BEGIN; one statement that claims up to `batch`
// due jobs with FOR UPDATE SKIP LOCKED, deletes them and inserts them into the
// archive; COMMIT. Same schema and indexes as proletarian (its migrate()).

import { setTimeout as sleep } from 'node:timers/promises';
import { SYSTEMS } from '../config.mjs';
import { ident, newPool } from '../lib/pg.mjs';
import { QUEUE, proletarianAdmin } from './proletarian.mjs';

const concurrency = SYSTEMS.proletarian.concurrency;

function claimAndArchive(ns) {
  const s = ident(ns);
  return `WITH claimed AS (
      SELECT job_id FROM ${s}.job
      WHERE queue = $1 AND process_at <= now()
      ORDER BY process_at, job_id
      LIMIT $2
      FOR UPDATE SKIP LOCKED
    ), finished AS (
      DELETE FROM ${s}.job AS j USING claimed AS c WHERE j.job_id = c.job_id RETURNING j.*
    )
    INSERT INTO ${s}.archived_job
      (job_id, queue, job_type, payload, attempts, enqueued_at, process_at, status, finished_at, last_error)
    SELECT job_id, queue, job_type, payload, attempts + 1, enqueued_at, process_at, 'success', clock_timestamp(), last_error
    FROM finished`;
}

export default {
  name: 'raw-sql',
  packages: () => ({}),
  settings: () => ({ concurrency }),
  available: async () => true,
  admin: proletarianAdmin,

  async producer() {
    throw new Error('raw-sql only runs W7');
  },

  async worker(ns, handle, { batch = 1 } = {}) {
    const pool = newPool(concurrency + 1);
    const query = { name: `w7_${batch}`, text: claimAndArchive(ns), values: [QUEUE, batch] };
    let stopping = false;
    let loops = [];
    const loop = async () => {
      const client = await pool.connect();
      try {
        while (!stopping) {
          await client.query('BEGIN');
          const { rowCount } = await client.query(query);
          await client.query('COMMIT');
          for (let k = 0; k < rowCount; k++) handle(-1);
          if (rowCount === 0) await sleep(20);
        }
      } finally {
        client.release();
      }
    };
    return {
      info: { concurrency, batch },
      async start() {
        loops = Array.from({ length: concurrency }, loop);
      },
      async stop() {
        stopping = true;
        await Promise.all(loops);
        await pool.end();
      },
    };
  },
};
