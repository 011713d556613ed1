import { createHash } from 'node:crypto';
import { AUDIT_SCHEMA_VERSION } from '../../src/analysis/audit/document.ts';
import type { AuditResult } from '../../src/analysis/audit/service.ts';
import { AuditRunOptions, type AuditSelectionInput } from '../../src/analysis/audit/types.ts';

/** Synchronous chunks per model and hashes per chunk of the synthetic CPU-bound analysis. */
export const CHUNKS = 8;
export const HASHES_PER_CHUNK = 1_500;

const block = Buffer.alloc(4096, 7);

/** One synchronous slice of work (as an analyzer does between awaits: decode, embed, score). */
export function chunk(seed: number): number {
  let acc = seed;
  for (let i = 0; i < HASHES_PER_CHUNK; i++)
    acc ^= createHash('sha256').update(block).update(String(i)).digest()[0] ?? 0;
  return acc;
}

/** A stand-in for one model's analysis: fixed CPU work in slices, yielding between them. */
export async function analyseModel(seed: number): Promise<number> {
  let acc = 0;
  for (let c = 0; c < CHUNKS; c++) {
    acc ^= chunk(seed + c);
    await new Promise((r) => setImmediate(r));
  }
  return acc;
}

/** The synthetic audit service a bench worker runs: `model` selections, fixed work each. */
export const syntheticService = {
  async audit(selection: AuditSelectionInput): Promise<AuditResult> {
    const ref = selection.kind === 'model' ? Number(selection.ref) : 0;
    await analyseModel(ref);
    const generatedAt = new Date(0).toISOString();
    const sel = { kind: 'model' as const, ref: String(ref) };
    return {
      generatedAt,
      selection: sel,
      models: [],
      notes: [],
      flaggedImages: [],
      files: [],
      document: {
        schemaVersion: AUDIT_SCHEMA_VERSION,
        tool: { name: 'loralens', version: '0.1.0' },
        generatedAt,
        selection: sel,
        options: AuditRunOptions.parse({}),
        analyses: [],
        notes: [],
        summaries: {},
        models: [],
        rows: [],
        flaggedImages: [],
      },
    };
  },
};
