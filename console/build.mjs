// Builds the console into ../src/cove/console/static (git-ignored; the wheel ships it).
// Usage: node build.mjs   (scripts/build_console.sh runs `npm ci` first)
import { build } from 'esbuild';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'src', 'cove', 'console', 'static');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });

await build({
  entryPoints: [join(here, 'src', 'main.jsx')],
  outdir: join(out, 'assets'),
  bundle: true,
  splitting: true,          // the GraphQL explorer (GraphiQL) loads only when it is opened
  format: 'esm',
  minify: true,
  target: ['chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  entryNames: '[name]',
  chunkNames: 'chunk-[hash]',
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'linked',
  logLevel: 'warning',
});
cpSync(join(here, 'index.html'), join(out, 'index.html'));
console.log(`built the console into ${out}`);
