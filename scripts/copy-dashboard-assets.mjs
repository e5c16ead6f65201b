#!/usr/bin/env node
// Puts what the dashboard's page loads into dist/dashboard/public: its own
// HTML and CSS, its compiled script, and uPlot (a dev dependency, vendored
// here so that users install nothing more and the page needs no CDN).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const target = path.join(root, 'dist', 'dashboard', 'public');
fs.mkdirSync(target, { recursive: true });

const copies = [
  ['src/dashboard/public/index.html', 'index.html'],
  ['src/dashboard/public/app.css', 'app.css'],
  ['src/dashboard/public/favicon.svg', 'favicon.svg'],
  ['build/dashboard-client/client/app.js', 'app.js'],
  ['node_modules/uplot/dist/uPlot.iife.min.js', 'uPlot.iife.min.js'],
  ['node_modules/uplot/dist/uPlot.min.css', 'uPlot.min.css'],
];
for (const [from, to] of copies) fs.copyFileSync(path.join(root, from), path.join(target, to));
