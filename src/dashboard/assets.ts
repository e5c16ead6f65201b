import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** A file the dashboard serves from `dist/dashboard/public`, read once. */
export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The files the page loads: a fixed list, so no request path ever reaches the file system. */
export const ASSET_FILES = ['index.html', 'app.js', 'app.css', 'uPlot.iife.min.js', 'uPlot.min.css', 'favicon.svg'] as const;
export type AssetName = (typeof ASSET_FILES)[number];

const cache = new Map<AssetName, Asset>();
const publicDir = new URL('./public/', import.meta.url);

export function isAssetName(name: string): name is AssetName {
  return (ASSET_FILES as readonly string[]).includes(name);
}

export function loadAsset(name: AssetName): Asset {
  let asset = cache.get(name);
  if (!asset) {
    const body = readFileSync(new URL(name, publicDir));
    const extension = name.slice(name.lastIndexOf('.'));
    asset = {
      body,
      type: TYPES[extension] ?? 'application/octet-stream',
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
    };
    cache.set(name, asset);
  }
  return asset;
}
