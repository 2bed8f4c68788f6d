// The end of `npm run build`: the dashboard's static files (CSS, scripts, icon) beside the compiled
// code, so dist/ runs on its own, and a stamp saying when the build finished (scripts/run-compiled.js
// compares it with the source). Plain JavaScript: it runs before anything is compiled.
import { cpSync, writeFileSync } from 'node:fs';

cpSync('src/http/public', 'dist/src/http/public', { recursive: true });
writeFileSync('dist/.built', `${new Date().toISOString()}\n`);
