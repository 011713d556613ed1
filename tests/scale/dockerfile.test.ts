import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

/*
 * hadolint is not packaged for Debian 12, so the Dockerfile is checked here: parsed into stages and
 * instructions, then held to the rules that matter for this project.
 */
const root = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');

interface Instruction {
  op: string;
  args: string;
  line: number;
}
interface Stage {
  name: string | null;
  from: string;
  instructions: Instruction[];
}

/** Dockerfile → stages (continuation lines joined, comments dropped). */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]?.trim() ?? '';
    const start = i + 1;
    if (line === '' || line.startsWith('#')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) {
      line = `${line.slice(0, -1).trim()} ${lines[++i]?.trim() ?? ''}`;
    }
    const m = /^(\w+)\s+(.*)$/.exec(line);
    assert.ok(m, `line ${start}: not an instruction: ${line}`);
    const op = (m[1] ?? '').toUpperCase();
    const args = m[2] ?? '';
    if (op === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      assert.ok(from, `line ${start}: FROM image [AS name]`);
      stages.push({ from: from[1] ?? '', name: from[2] ?? null, instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    assert.ok(stage, `line ${start}: ${op} before FROM`);
    stage.instructions.push({ op, args, line: start });
  }
  return stages;
}

const KNOWN = new Set([
  'RUN',
  'CMD',
  'LABEL',
  'EXPOSE',
  'ENV',
  'ADD',
  'COPY',
  'ENTRYPOINT',
  'VOLUME',
  'USER',
  'WORKDIR',
  'ARG',
  'ONBUILD',
  'STOPSIGNAL',
  'HEALTHCHECK',
  'SHELL',
]);

describe('Dockerfile, compose.yaml and .dockerignore', () => {
  const stages = parseDockerfile(read('Dockerfile'));
  const all = stages.flatMap((s) => s.instructions);
  const runs = all.filter((i) => i.op === 'RUN').map((i) => i.args);
  const ci = read('.ci/run');

  test('only known instructions; multi-stage with named stages and pinned base images', () => {
    for (const i of all) assert.ok(KNOWN.has(i.op), `line ${i.line}: unknown instruction ${i.op}`);
    assert.ok(stages.length >= 2, 'multi-stage');
    for (const s of stages) {
      assert.ok(s.name, `every stage is named (FROM ${s.from})`);
      assert.match(s.from, /^[\w./-]+:\d+[\w.-]*$/, `base image pinned to a version: ${s.from}`);
    }
    const runtime = stages.at(-1);
    assert.ok(
      runtime?.instructions.some((i) => i.op === 'COPY' && /--from=build\b/.test(i.args)),
      'the runtime stage copies from the build stage',
    );
    // Node as in package.json engines.
    assert.ok(stages.every((s) => s.from.startsWith('node:20.')));
  });

  test('the final stage runs as a non-root user, with data and models in volumes', () => {
    const runtime = stages.at(-1);
    assert.ok(runtime);
    const users = runtime.instructions.filter((i) => i.op === 'USER');
    assert.ok(users.length > 0, 'a USER instruction');
    const last = users.at(-1)?.args.trim() ?? '';
    assert.ok(!/^(root|0)(:|$)/.test(last), `USER ${last} is not root`);
    const userIndex = runtime.instructions.indexOf(users.at(-1) as Instruction);
    assert.ok(
      runtime.instructions.slice(userIndex).every((i) => i.op !== 'RUN' || !/\bsudo\b/.test(i.args)),
      'no sudo',
    );
    const volumes = runtime.instructions
      .filter((i) => i.op === 'VOLUME')
      .map((i) => i.args)
      .join(' ');
    assert.match(volumes, /\/app\/assets\/models/);
    assert.match(volumes, /\/data/);
    assert.match(
      read('docker/entrypoint.sh'),
      /npm run --silent models -- --check[\s\S]*npm run --silent models/,
    );
  });

  test('no secrets baked in: no token/key/password values, no .env copied', () => {
    for (const i of all.filter((x) => x.op === 'ENV' || x.op === 'ARG')) {
      for (const m of i.args.matchAll(/([A-Z0-9_]+)=(\S*)/g)) {
        assert.ok(
          !/TOKEN|SECRET|PASSWORD|API_KEY|PRIVATE/.test(m[1] ?? '') || m[2] === '',
          `line ${i.line}: ${m[1]} has a value in the image`,
        );
      }
    }
    for (const i of all.filter((x) => x.op === 'COPY' || x.op === 'ADD')) {
      assert.doesNotMatch(i.args, /\.env\b/, `line ${i.line} copies an env file`);
      assert.doesNotMatch(i.args, /^https?:/, `line ${i.line}: ADD from a URL`);
    }
    const ignore = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim());
    for (const must of ['node_modules', '.git', '.env', 'dist'])
      assert.ok(ignore.includes(must), `.dockerignore: ${must}`);
  });

  test('installs the way CI does: same Debian build packages, ONNXRUNTIME_NODE_INSTALL=skip, npm ci, check:install', () => {
    const apt = runs.find((r) => /apt-get install/.test(r) && /g\+\+/.test(r)) ?? '';
    const packages = new Set(apt.split(/\s+/).filter((w) => /^[a-z0-9][a-z0-9.+-]+$/.test(w)));
    // Every native-build package .ci/run installs (requirements with a node-gyp reason, and libs).
    const ciBuild = [...ci.matchAll(/^\s*"(\S+) (\S+)\s+#.*node-gyp/gm)].map((m) => m[2] ?? '');
    const ciLibs = (/libs=\(([^)]*)\)/.exec(ci)?.[1] ?? '').split(/\s+/).filter((p) => p.endsWith('-dev'));
    assert.ok(ciBuild.length >= 3 && ciLibs.length >= 3, 'parsed .ci/run');
    for (const p of [...ciBuild, ...ciLibs])
      assert.ok(packages.has(p), `Dockerfile build stage installs ${p}`);
    assert.match(ci, /ONNXRUNTIME_NODE_INSTALL=skip/);
    assert.ok(all.some((i) => i.op === 'ENV' && /ONNXRUNTIME_NODE_INSTALL=skip/.test(i.args)));
    assert.ok(
      runs.some((r) => /(^|&&\s*)npm ci(\s|$)/.test(r)),
      'npm ci (never npm install of the lock)',
    );
    assert.ok(
      !runs.some((r) => /npm (i|install)(\s|$)(?!-g)/.test(r) && !/-g npm@/.test(r)),
      'no plain npm install',
    );
    assert.match(ci, /npm run check:install/);
    assert.ok(runs.some((r) => /npm run check:install/.test(r)));
    assert.ok(
      all.findIndex((i) => i.op === 'COPY' && /package-lock\.json/.test(i.args)) <
        all.findIndex((i) => i.op === 'RUN' && /npm ci/.test(i.args)),
      'the lockfile is copied before npm ci (layer cache)',
    );
  });

  test('compose.yaml runs redis, one bot and two workers on the shared REDIS_URL', () => {
    const compose = read('compose.yaml');
    const services = /^services:\n([\s\S]*?)^\S/m.exec(compose)?.[1] ?? '';
    const names = [...services.matchAll(/^ {2}([\w-]+):$/gm)].map((m) => m[1]);
    assert.deepEqual(names, ['redis', 'bot', 'worker']);
    const block = (name: string) =>
      new RegExp(`^ {2}${name}:\\n((?: {4}.*\\n|\\n)*)`, 'm').exec(compose)?.[1] ?? '';
    assert.match(block('worker'), /replicas: 2/);
    assert.match(block('worker'), /command: \["worker"/);
    assert.match(block('bot'), /command: \["bot"\]/);
    for (const s of ['bot', 'worker']) assert.match(block(s), /REDIS_URL: redis:\/\/redis:6379/);
    assert.doesNotMatch(compose, /DISCORD_TOKEN: [^$\s]/, 'the token comes from the environment');
  });
});
