import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The header an action's request carries its token in. */
export const CSRF_HEADER = 'x-proletarian-csrf';

/**
 * Cross-site request protection for actions: the page gets a token from the
 * JSON API (which another site's page cannot read), and every action must
 * send it back in a header — which a cross-site form cannot set, and a
 * cross-site fetch cannot send without a preflight this server never
 * grants. The Origin check stops the rest in browsers that send it.
 */
export class CsrfGuard {
  readonly token: string;

  constructor(secret: string | undefined) {
    // With several processes behind a balancer, a shared secret gives them one token.
    const key = secret ?? randomBytes(32).toString('hex');
    this.token = createHmac('sha256', key).update('proletarian dashboard actions').digest('base64url');
  }

  /** Why the request is refused, or null when it may act. */
  refusal(req: IncomingMessage): string | null {
    const origin = req.headers.origin;
    const host = req.headers.host;
    if (origin !== undefined) {
      let originHost: string;
      try {
        originHost = new URL(origin).host;
      } catch {
        return 'the Origin header is not a URL';
      }
      if (!host || originHost !== host) return `cross-origin request from ${origin}`;
    }
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin') return `cross-site request (Sec-Fetch-Site: ${String(site)})`;
    const given = req.headers[CSRF_HEADER];
    if (typeof given !== 'string') return 'the CSRF token is missing';
    const a = Buffer.from(given);
    const b = Buffer.from(this.token);
    if (a.length !== b.length || !timingSafeEqual(a, b)) return 'the CSRF token is wrong';
    return null;
  }
}
