import type { Detection, FaceBox } from './types.ts';

/** Intersection over union of two boxes (0 when either is empty). */
export function iou(a: FaceBox, b: FaceBox): number {
  const x1 = Math.max(a.x, b.x);
  const y1 = Math.max(a.y, b.y);
  const x2 = Math.min(a.x + a.w, b.x + b.w);
  const y2 = Math.min(a.y + a.h, b.y + b.h);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  const union = a.w * a.h + b.w * b.h - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Greedy non-maximum suppression: highest score first, drop every later box whose IoU with a kept box
 * exceeds `threshold`. Ties keep input order (stable sort), so the result is deterministic.
 */
export function nms<T extends Pick<Detection, 'box' | 'score'>>(
  items: readonly T[],
  threshold: number,
  topK = Infinity,
): T[] {
  const order = items.map((_, i) => i).sort((a, b) => items[b]!.score - items[a]!.score || a - b);
  const kept: T[] = [];
  for (const i of order) {
    const candidate = items[i]!;
    if (kept.every((k) => iou(k.box, candidate.box) <= threshold)) {
      kept.push(candidate);
      if (kept.length >= topK) break;
    }
  }
  return kept;
}
