import { basename } from 'node:path';
import type { BiasReference } from '../audit/types.ts';
import type { ReferenceEvidence } from './evidence.ts';

/** How a reference is named: the evidence (label + N) and the `bias_reference` metrics.csv cell. */
export interface ReferenceName {
  evidence: ReferenceEvidence;
  /**
   * `population(n=N)` (every other audited model's images), `dir:<folder name>(n=N)` or
   * `model:<id>(n=N)`; N = the reference images that decoded, the N every bias number of that row
   * was compared against (each evidence block also states its own N).
   */
  column: string;
}

/** The Civitai model id in a reference (an id or a civitai.com model URL), else the text as given. */
export function referenceModelId(ref: string): string {
  const url = /\/models\/(\d+)/.exec(ref);
  if (url) return url[1]!;
  return ref.trim();
}

/** Name a reference of `nImages` decoded images. */
export function nameReference(reference: BiasReference, nImages: number): ReferenceName {
  switch (reference.kind) {
    case 'population':
      return {
        evidence: { kind: 'population', label: 'all other audited models (leave-one-out)', nImages },
        column: `population(n=${nImages})`,
      };
    case 'dir': {
      const name = basename(reference.path.replace(/[/\\]+$/, '')) || reference.path;
      return {
        evidence: { kind: 'dir', label: `folder ${name}/ (${nImages} images)`, nImages },
        column: `dir:${name}(n=${nImages})`,
      };
    }
    case 'model': {
      const id = referenceModelId(reference.ref);
      return {
        evidence: { kind: 'model', label: `model ${id} (${nImages} images)`, nImages },
        column: `model:${id}(n=${nImages})`,
      };
    }
  }
}
