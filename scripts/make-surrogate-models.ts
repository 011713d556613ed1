/**
 * Compute surrogates of the CLIP ViT-B/32 towers for `npm run bench` when the real weights are not
 * in assets/models: random (seeded) weights, the real input/output names and shapes, and roughly the
 * real amount of work per item, so batching and overlap are measured against realistic inference cost.
 *
 * - vision: 32×32 patches (49 tokens × 3072) → 768 wide, 12 residual MLP blocks 768→3840→768 →
 *   mean → 512. ≈ 3.6 GMAC per image (ViT-B/32: ≈ 4.4 GMAC), ≈ 290 MB of fp32 weights.
 * - text: 49 408 × 512 token table + positions, 12 residual MLP blocks 512→2560→512 over 77 tokens →
 *   mean → 512. ≈ 2.4 GMAC per prompt window (CLIP text tower: ≈ 2.9 GMAC), ≈ 230 MB.
 * The embeddings mean nothing; only the cost is realistic. Never used by tests.
 */
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from '../src/analysis/stats/random.ts';
import {
  encodeModel,
  FLOAT,
  floatTensor,
  INT64,
  int64Tensor,
  type Node,
  randomMatrix,
  TINY_EMBED_DIM,
  valueInfo,
} from './make-tiny-models.ts';

export const SURROGATE_VERSION = 1;
const LAYERS = 12;

function residualMlp(prefix: string, input: string, layers: number): { nodes: Node[]; output: string } {
  const nodes: Node[] = [];
  let x = input;
  for (let l = 0; l < layers; l++) {
    nodes.push(
      { op: 'MatMul', inputs: [x, `${prefix}w1_${l}`], outputs: [`${prefix}h_${l}`] },
      { op: 'Relu', inputs: [`${prefix}h_${l}`], outputs: [`${prefix}a_${l}`] },
      { op: 'MatMul', inputs: [`${prefix}a_${l}`, `${prefix}w2_${l}`], outputs: [`${prefix}y_${l}`] },
      { op: 'Add', inputs: [x, `${prefix}y_${l}`], outputs: [`${prefix}x_${l + 1}`] },
    );
    x = `${prefix}x_${l + 1}`;
  }
  return { nodes, output: x };
}

function mlpWeights(prefix: string, seed: number, width: number, hidden: number) {
  const rng = seededRandom(seed);
  return Array.from({ length: LAYERS }, (_, l) => [
    floatTensor(`${prefix}w1_${l}`, [width, hidden], randomMatrix(rng, width, hidden, 1 / Math.sqrt(width))),
    floatTensor(
      `${prefix}w2_${l}`,
      [hidden, width],
      randomMatrix(rng, hidden, width, 0.2 / Math.sqrt(hidden)),
    ),
  ]).flat();
}

export function surrogateVisionModel(seed: number): Uint8Array {
  const rng = seededRandom(seed);
  const mlp = residualMlp('v', 'x_0', LAYERS);
  return encodeModel(
    'surrogate_clip_vision',
    [
      { op: 'Reshape', inputs: ['pixel_values', 'patch_shape'], outputs: ['p6'] },
      { op: 'Transpose', inputs: ['p6'], outputs: ['pt'], attrs: { perm: [0, 2, 4, 1, 3, 5] } },
      { op: 'Reshape', inputs: ['pt', 'token_shape'], outputs: ['tokens'] },
      { op: 'MatMul', inputs: ['tokens', 'w_embed'], outputs: ['x_0'] },
      ...mlp.nodes,
      { op: 'ReduceMean', inputs: [mlp.output], outputs: ['pooled'], attrs: { axes: [1], keepdims: 0 } },
      { op: 'MatMul', inputs: ['pooled', 'proj'], outputs: ['image_embeds'] },
    ],
    [
      int64Tensor('patch_shape', [-1, 3, 7, 32, 7, 32]),
      int64Tensor('token_shape', [-1, 49, 3072]),
      floatTensor('w_embed', [3072, 768], randomMatrix(rng, 3072, 768, 1 / Math.sqrt(3072))),
      ...mlpWeights('v', seed + 7, 768, 3840),
      floatTensor('proj', [768, TINY_EMBED_DIM], randomMatrix(rng, 768, TINY_EMBED_DIM, 1 / Math.sqrt(768))),
    ],
    [valueInfo('pixel_values', FLOAT, ['batch_size', 3, 224, 224])],
    [valueInfo('image_embeds', FLOAT, ['batch_size', TINY_EMBED_DIM])],
  );
}

export function surrogateTextModel(seed: number): Uint8Array {
  const rng = seededRandom(seed + 1);
  const mlp = residualMlp('t', 'x_0', LAYERS);
  return encodeModel(
    'surrogate_clip_text',
    [
      { op: 'Gather', inputs: ['token_table', 'input_ids'], outputs: ['tok'], attrs: { axis: 0 } },
      { op: 'Add', inputs: ['tok', 'pos_table'], outputs: ['x_0'] },
      ...mlp.nodes,
      { op: 'ReduceMean', inputs: [mlp.output], outputs: ['pooled'], attrs: { axes: [1], keepdims: 0 } },
      { op: 'MatMul', inputs: ['pooled', 'proj'], outputs: ['text_embeds'] },
    ],
    [
      floatTensor('token_table', [49408, 512], randomMatrix(rng, 49408, 512, 1)),
      floatTensor('pos_table', [77, 512], randomMatrix(rng, 77, 512, 0.1)),
      ...mlpWeights('t', seed + 11, 512, 2560),
      floatTensor('proj', [512, TINY_EMBED_DIM], randomMatrix(rng, 512, TINY_EMBED_DIM, 1 / Math.sqrt(512))),
    ],
    [valueInfo('input_ids', INT64, ['batch_size', 'sequence_length'])],
    [valueInfo('text_embeds', FLOAT, ['batch_size', TINY_EMBED_DIM])],
  );
}

/** Surrogate towers in a temp dir (generated once, ≈ 0.5 GB), under the fp32 file names. */
export async function ensureSurrogateClipModels(): Promise<{ dir: string }> {
  const dir = join(tmpdir(), `loralens-surrogate-clip-v${SURROGATE_VERSION}`);
  try {
    await stat(join(dir, 'text_model.onnx'));
    return { dir };
  } catch {
    await mkdir(dir, { recursive: true });
    for (const [name, make] of [
      ['vision_model.onnx', () => surrogateVisionModel(4321)],
      ['text_model.onnx', () => surrogateTextModel(4321)],
    ] as const) {
      const tmp = join(dir, `${name}.${process.pid}.tmp`);
      await writeFile(tmp, make());
      await rename(tmp, join(dir, name));
    }
    return { dir };
  }
}
