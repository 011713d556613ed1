import { createHash } from 'node:crypto';

/** A stable key for one finding: same model, detector, rule and evidence → same key across re-audits. */
export function findingKey(modelId: number, detector: string, rule: string, evidence: string): string {
  const h = createHash('sha256')
    .update(`${modelId}\u0000${detector}\u0000${rule}\u0000${evidence}`)
    .digest('hex');
  return `${modelId}:${detector}:${rule}:${h.slice(0, 10)}`;
}
