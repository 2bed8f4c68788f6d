import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';

const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));
/** Chart.js's browser build, served from its package (its exports name no file for browsers). */
const CHART_JS = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');

/**
 * `/admin/assets`: the dashboard's stylesheet and scripts. Public (nothing in them is about
 * patrons), revalidated by ETag so an upgrade shows at once.
 */
export function adminAssets(): Router {
  const router = express.Router();
  router.get('/chart.umd.js', (_req, res) => res.sendFile(CHART_JS));
  router.use(express.static(PUBLIC_DIR, { index: false }));
  return router;
}
