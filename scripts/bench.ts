/**
 * `npm run bench [section…]`: runs the benchmark sections (text, text-blind, text-speed, crawl, clip,
 * distance, colour, faces, pipeline, bot, startup, scale, report, bias), prints each as a
 * table and saves everything as JSON in bench-results/. Ratios, not wall-clock limits.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { arch, cpus, platform } from 'node:os';
import { join } from 'node:path';
import { renderTable } from '../src/cli/render.ts';
import type { BenchSection } from './bench/types.ts';

const SECTIONS: Record<string, () => Promise<BenchSection>> = {
  text: async () => (await import('./bench/text.ts')).run(),
  'text-blind': async () => (await import('./bench/text-blind.ts')).run(),
  'text-speed': async () => (await import('./bench/text-speed.ts')).run(),
  crawl: async () => (await import('./bench/crawl.ts')).run(),
  clip: async () => (await import('./bench/clip.ts')).run(),
  bot: async () => (await import('./bench/bot.ts')).run(),
  distance: async () => (await import('./bench/distance.ts')).run(),
  colour: async () => (await import('./bench/colour.ts')).run(),
  pipeline: async () => (await import('./bench/pipeline.ts')).run(),
  faces: async () => (await import('./bench/faces.ts')).run(),
  startup: async () => (await import('./bench/startup.ts')).run(),
  scale: async () => (await import('./bench/scale.ts')).run(),
  report: async () => (await import('./bench/report.ts')).run(),
  bias: async () => (await import('./bench/bias.ts')).run(),
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !(w in SECTIONS));
if (unknown.length > 0) {
  console.error(
    `unknown bench section(s): ${unknown.join(', ')}; choose from ${Object.keys(SECTIONS).join(', ')}`,
  );
  process.exit(2);
}
const names = wanted.length > 0 ? wanted : Object.keys(SECTIONS);
const results: BenchSection[] = [];
for (const name of names) {
  const started = Date.now();
  const section = await SECTIONS[name]!();
  results.push(section);
  const columns = [...new Set(section.rows.flatMap((r) => Object.keys(r)))];
  console.log(`\n== ${section.name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  console.log(
    renderTable(
      columns,
      section.rows.map((r) => columns.map((c) => (r[c] === null || r[c] === undefined ? '' : String(r[c])))),
      60,
    ),
  );
  for (const note of section.notes) console.log(`  note: ${note}`);
}
await mkdir('bench-results', { recursive: true });
const file = join('bench-results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
const machine = {
  node: process.version,
  platform: platform(),
  arch: arch(),
  cpus: cpus().length,
  cpu: cpus()[0]?.model ?? '',
};
await writeFile(
  file,
  `${JSON.stringify({ generatedAt: new Date().toISOString(), machine, sections: results }, null, 2)}\n`,
);
await writeFile(
  join('bench-results', 'latest.json'),
  `${JSON.stringify({ generatedAt: new Date().toISOString(), machine, sections: results }, null, 2)}\n`,
);
console.log(`\nsaved ${file}`);
