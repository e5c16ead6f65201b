import { quote, type Tables } from '../tables.js';

/**
 * Lets `prune` find the oldest archived jobs through an index range instead
 * of scanning the whole archive for every batch. Building it blocks inserts
 * into the archive (workers finishing jobs wait) for as long as the build
 * takes, which grows with the archive's size.
 */
export function archiveRetentionIndex(t: Tables): string {
  return `
-- Named after the archived-job table, so two installations in one schema don't collide.
CREATE INDEX ${quote(`${t.archivedJobTableName}_finished_at_idx`)} ON ${t.archivedJob} (finished_at);
`;
}
