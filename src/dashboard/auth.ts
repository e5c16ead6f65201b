import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/**
 * Decides whether a request may see the dashboard. The app's own check (a
 * session cookie, an SSO header) or one of {@link basicAuth} and
 * {@link tokenAuth}.
 */
export type Authorize = ((req: IncomingMessage) => boolean | Promise<boolean>) & {
  /** Sent as `WWW-Authenticate` with a refusal, so browsers ask for credentials. */
  readonly wwwAuthenticate?: string;
};

// Compared as digests, so neither the length nor the content leaks through timing.
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function basicCredentials(req: IncomingMessage): { user: string; password: string } | null {
  const header = req.headers.authorization;
  const match = header ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header) : null;
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

const REALM = 'Basic realm="proletarian dashboard", charset="UTF-8"';

/** HTTP basic auth with one user and password; browsers ask for them. */
export function basicAuth(user: string, password: string): Authorize {
  if (!user || !password) throw new TypeError('basicAuth needs a user and a password');
  const check = (req: IncomingMessage) => {
    const given = basicCredentials(req);
    // Both compared, always, so a wrong user takes as long as a wrong password.
    const userOk = sameSecret(given?.user ?? '', user);
    const passwordOk = sameSecret(given?.password ?? '', password);
    return given !== null && userOk && passwordOk;
  };
  return Object.assign(check, { wwwAuthenticate: REALM });
}

/**
 * A shared token: `Authorization: Bearer <token>` for scripts, or as the
 * password of basic auth (any user name) for browsers.
 */
export function tokenAuth(token: string): Authorize {
  if (!token || token.length < 16) throw new TypeError('tokenAuth needs a token of at least 16 characters');
  const check = (req: IncomingMessage) => {
    const header = req.headers.authorization ?? '';
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const given = bearer ? bearer[1]! : basicCredentials(req)?.password;
    return given !== undefined && sameSecret(given, token);
  };
  return Object.assign(check, { wwwAuthenticate: REALM });
}

/** Whether `host` (a name or address to listen on) is reachable only from this machine. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1';
  return false;
}
