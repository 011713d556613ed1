/**
 * Compute surrogates of the CLIP ViT-B/32 towers for `npm run bench` when the real weights are not
 * in assets/models: random (seeded) weights, the real input/output names and shapes, and the real
 * architecture's shapes, so their throughput predicts the real model's (same MatMul sizes, same
 * attention, LayerNorm and activation work; only the weight values differ).
 *
 * - vision: 32×32 patches → 768 wide, class token + 49 patch tokens + positions, pre-LayerNorm,
 *   12 transformer blocks (12-head self-attention, MLP 768→3072→768 with quick-GELU, CLIP's GELU
 *   approximation), LayerNorm of the class token → 512. ≈ 4.41 GMAC per image, ≈ 350 MB fp32.
 * - text: 49 408 × 512 token table + positions, 12 causal transformer blocks (8 heads, MLP
 *   512→2048→512, quick-GELU), final LayerNorm, pooled at the end-of-text token → 512.
 *   ≈ 2.98 GMAC per 77-token window ({@link textWindowMacs}); the sequence axis is dynamic, like
 *   the real export, so shorter windows cost less. ≈ 250 MB.
 * The embeddings mean nothing; only the cost is realistic. Never used by tests.
 */
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encodeModel,
  FLOAT,
  floatTensor,
  INT64,
  int64Tensor,
  type Node,
  positionSliceNodes,
  TINY_EMBED_DIM,
  valueInfo,
} from './make-tiny-models.ts';

export const SURROGATE_VERSION = 2;
const LAYERS = 12;
const OPSET = 17; // LayerNormalization

/** Multiply-accumulates of one ViT-B/32 image (class token + 49 patches, 12 layers, width 768). */
export function visionImageMacs(): number {
  const s = 50;
  const d = 768;
  const perLayer = 4 * s * d * d + 2 * s * d * 4 * d + 2 * s * s * d;
  return LAYERS * perLayer + 49 * 3072 * d + d * 512;
}

/** Multiply-accumulates of one CLIP text window of `length` tokens (12 layers, width 512). */
export function textWindowMacs(length: number): number {
  const d = 512;
  const perLayer = 4 * length * d * d + 2 * length * d * 4 * d + 2 * length * length * d;
  return LAYERS * perLayer + d * 512;
}

/** Seeded uniform weights in ±scale·√3 (variance scale²), filled fast: the values only need to be finite. */
function weights(seed: number, count: number, scale: number): Float32Array {
  const out = new Float32Array(count);
  let x = seed >>> 0 || 1;
  const k = (scale * Math.sqrt(3)) / 0x80000000;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x | 0) * k;
  }
  return out;
}

interface Builder {
  nodes: Node[];
  inits: unknown[];
  seed: number;
}

function param(b: Builder, name: string, dims: number[], scale: number): string {
  const count = dims.reduce((a, c) => a * c, 1);
  b.inits.push(floatTensor(name, dims, weights(++b.seed * 7919, count, scale)));
  return name;
}

function constant(b: Builder, name: string, dims: number[], value: number): string {
  const count = dims.reduce((a, c) => a * c, 1);
  b.inits.push(floatTensor(name, dims, new Float32Array(count).fill(value)));
  return name;
}

function layerNorm(b: Builder, x: string, width: number, name: string): string {
  const gamma = constant(b, `${name}_g`, [width], 1);
  const beta = constant(b, `${name}_b`, [width], 0);
  b.nodes.push({ op: 'LayerNormalization', inputs: [x, gamma, beta], outputs: [name], attrs: { axis: -1 } });
  return name;
}

function linear(b: Builder, x: string, inDim: number, outDim: number, name: string): string {
  const w = param(b, `${name}_w`, [inDim, outDim], 1 / Math.sqrt(inDim));
  const bias = constant(b, `${name}_bias`, [outDim], 0);
  b.nodes.push(
    { op: 'MatMul', inputs: [x, w], outputs: [`${name}_mm`] },
    { op: 'Add', inputs: [`${name}_mm`, bias], outputs: [name] },
  );
  return name;
}

/** One pre-LayerNorm CLIP block; `mask` is an additive [S,S] attention mask (causal text) or none. */
function block(b: Builder, x: string, width: number, heads: number, l: number, mask?: string): string {
  const p = `b${l}`;
  const dh = width / heads;
  const h = layerNorm(b, x, width, `${p}_ln1`);
  const headShape = `${p}_hshape`;
  b.inits.push(int64Tensor(headShape, [0, 0, heads, dh]));
  const split = (which: string, perm: number[]): string => {
    const t = linear(b, h, width, width, `${p}_${which}`);
    b.nodes.push(
      { op: 'Reshape', inputs: [t, headShape], outputs: [`${p}_${which}_r`] },
      { op: 'Transpose', inputs: [`${p}_${which}_r`], outputs: [`${p}_${which}_t`], attrs: { perm } },
    );
    return `${p}_${which}_t`;
  };
  const q = split('q', [0, 2, 1, 3]);
  const k = split('k', [0, 2, 3, 1]);
  const v = split('v', [0, 2, 1, 3]);
  const scale = constant(b, `${p}_scale`, [1], 1 / Math.sqrt(dh));
  b.nodes.push(
    { op: 'MatMul', inputs: [q, k], outputs: [`${p}_qk`] },
    { op: 'Mul', inputs: [`${p}_qk`, scale], outputs: [`${p}_scores`] },
  );
  let scores = `${p}_scores`;
  if (mask) {
    b.nodes.push({ op: 'Add', inputs: [scores, mask], outputs: [`${p}_masked`] });
    scores = `${p}_masked`;
  }
  const merged = `${p}_mshape`;
  b.inits.push(int64Tensor(merged, [0, 0, width]));
  b.nodes.push(
    { op: 'Softmax', inputs: [scores], outputs: [`${p}_attn`], attrs: { axis: -1 } },
    { op: 'MatMul', inputs: [`${p}_attn`, v], outputs: [`${p}_ctx`] },
    { op: 'Transpose', inputs: [`${p}_ctx`], outputs: [`${p}_ctx_t`], attrs: { perm: [0, 2, 1, 3] } },
    { op: 'Reshape', inputs: [`${p}_ctx_t`, merged], outputs: [`${p}_ctx_m`] },
  );
  const o = linear(b, `${p}_ctx_m`, width, width, `${p}_o`);
  b.nodes.push({ op: 'Add', inputs: [x, o], outputs: [`${p}_x1`] });
  const h2 = layerNorm(b, `${p}_x1`, width, `${p}_ln2`);
  const up = linear(b, h2, width, 4 * width, `${p}_fc1`);
  // quick-GELU, as CLIP: x · sigmoid(1.702 x).
  const k1702 = constant(b, `${p}_1702`, [1], 1.702);
  b.nodes.push(
    { op: 'Mul', inputs: [up, k1702], outputs: [`${p}_g1`] },
    { op: 'Sigmoid', inputs: [`${p}_g1`], outputs: [`${p}_g2`] },
    { op: 'Mul', inputs: [up, `${p}_g2`], outputs: [`${p}_act`] },
  );
  const down = linear(b, `${p}_act`, 4 * width, width, `${p}_fc2`);
  b.nodes.push({ op: 'Add', inputs: [`${p}_x1`, down], outputs: [`${p}_out`] });
  return `${p}_out`;
}

export function surrogateVisionModel(seed: number): Uint8Array {
  const b: Builder = { nodes: [], inits: [], seed };
  const d = 768;
  b.inits.push(
    int64Tensor('patch_shape', [-1, 3, 7, 32, 7, 32]),
    int64Tensor('token_shape', [-1, 49, 3072]),
    int64Tensor('zero_1d', [0]),
    int64Tensor('one_1d', [1]),
    int64Tensor('cls_tail', [1, d]),
    int64Tensor('cls_index', [0]),
  );
  const wPatch = param(b, 'w_patch', [3072, d], 1 / Math.sqrt(3072));
  const cls = param(b, 'cls', [1, 1, d], 0.02);
  const pos = param(b, 'pos', [50, d], 0.02);
  b.nodes.push(
    { op: 'Reshape', inputs: ['pixel_values', 'patch_shape'], outputs: ['p6'] },
    { op: 'Transpose', inputs: ['p6'], outputs: ['pt'], attrs: { perm: [0, 2, 4, 1, 3, 5] } },
    { op: 'Reshape', inputs: ['pt', 'token_shape'], outputs: ['patches'] },
    { op: 'MatMul', inputs: ['patches', wPatch], outputs: ['patch_emb'] },
    { op: 'Shape', inputs: ['pixel_values'], outputs: ['px_shape'] },
    { op: 'Slice', inputs: ['px_shape', 'zero_1d', 'one_1d'], outputs: ['batch'] },
    { op: 'Concat', inputs: ['batch', 'cls_tail'], outputs: ['cls_shape'], attrs: { axis: 0 } },
    { op: 'Expand', inputs: [cls, 'cls_shape'], outputs: ['cls_b'] },
    { op: 'Concat', inputs: ['cls_b', 'patch_emb'], outputs: ['tokens'], attrs: { axis: 1 } },
    { op: 'Add', inputs: ['tokens', pos], outputs: ['x_in'] },
  );
  let x = layerNorm(b, 'x_in', d, 'pre_ln');
  for (let l = 0; l < LAYERS; l++) x = block(b, x, d, 12, l);
  b.nodes.push({ op: 'Gather', inputs: [x, 'cls_index'], outputs: ['cls_out3'], attrs: { axis: 1 } });
  b.nodes.push({ op: 'Squeeze', inputs: ['cls_out3', 'one_1d'], outputs: ['cls_out'] });
  const pooled = layerNorm(b, 'cls_out', d, 'post_ln');
  const proj = param(b, 'proj', [d, TINY_EMBED_DIM], 1 / Math.sqrt(d));
  b.nodes.push({ op: 'MatMul', inputs: [pooled, proj], outputs: ['image_embeds'] });
  return encodeModel(
    'surrogate_clip_vision',
    b.nodes,
    b.inits,
    [valueInfo('pixel_values', FLOAT, ['batch_size', 3, 224, 224])],
    [valueInfo('image_embeds', FLOAT, ['batch_size', TINY_EMBED_DIM])],
    OPSET,
  );
}

export function surrogateTextModel(seed: number): Uint8Array {
  const b: Builder = { nodes: [], inits: [], seed: seed + 1000 };
  const d = 512;
  const causal = new Float32Array(77 * 77);
  for (let i = 0; i < 77; i++) for (let j = i + 1; j < 77; j++) causal[i * 77 + j] = -1e9;
  b.inits.push(
    int64Tensor('zero_1d', [0]),
    int64Tensor('one_1d', [1]),
    int64Tensor('two_1d', [2]),
    int64Tensor('axes_01', [0, 1]),
    int64Tensor('axis1', [1]),
    int64Tensor('axis2', [2]),
    int64Tensor('eot_id', [49407]),
    floatTensor('causal_full', [77, 77], causal),
  );
  const table = param(b, 'token_table', [49408, d], 0.02);
  const pos = param(b, 'pos_table', [77, d], 0.01);
  b.nodes.push(
    { op: 'Gather', inputs: [table, 'input_ids'], outputs: ['tok'], attrs: { axis: 0 } },
    ...positionSliceNodes(pos, 'pos'),
    { op: 'Add', inputs: ['tok', 'pos'], outputs: ['x_in'] },
    // The [S,S] corner of the causal mask (seq_len is computed by positionSliceNodes).
    { op: 'Concat', inputs: ['seq_len', 'seq_len'], outputs: ['ss'], attrs: { axis: 0 } },
    { op: 'Concat', inputs: ['zero_1d', 'zero_1d'], outputs: ['zz'], attrs: { axis: 0 } },
    { op: 'Slice', inputs: ['causal_full', 'zz', 'ss', 'axes_01'], outputs: ['causal'] },
  );
  let x = 'x_in';
  for (let l = 0; l < LAYERS; l++) x = block(b, x, d, 8, l, 'causal');
  const final = layerNorm(b, x, d, 'final_ln');
  const proj = param(b, 'proj', [d, TINY_EMBED_DIM], 1 / Math.sqrt(d));
  b.nodes.push(
    { op: 'Equal', inputs: ['input_ids', 'eot_id'], outputs: ['is_eot'] },
    { op: 'Cast', inputs: ['is_eot'], outputs: ['eot_f'], attrs: { to: FLOAT } },
    { op: 'Unsqueeze', inputs: ['eot_f', 'axis2'], outputs: ['eot3'] },
    { op: 'Mul', inputs: [final, 'eot3'], outputs: ['at_eot'] },
    { op: 'ReduceSum', inputs: ['at_eot', 'axis1'], outputs: ['pooled'], attrs: { keepdims: 0 } },
    { op: 'MatMul', inputs: ['pooled', proj], outputs: ['text_embeds'] },
  );
  return encodeModel(
    'surrogate_clip_text',
    b.nodes,
    b.inits,
    [valueInfo('input_ids', INT64, ['batch_size', 'sequence_length'])],
    [valueInfo('text_embeds', FLOAT, ['batch_size', TINY_EMBED_DIM])],
    OPSET,
  );
}

/**
 * A FLOP probe: `repeats` MatMuls of [rows, 768] × [768, 3072] (the size of CLIP's MLP layers),
 * for the bench's "what this CPU computes" ceiling. Input `x` [batch, rows, 768].
 */
export function matmulProbeModel(repeats = 8): Uint8Array {
  const b: Builder = { nodes: [], inits: [], seed: 99 };
  let x = 'x';
  for (let i = 0; i < repeats; i++) {
    const up = param(b, `up_${i}`, [768, 3072], 1 / Math.sqrt(768));
    const down = param(b, `down_${i}`, [3072, 768], 1 / Math.sqrt(3072));
    b.nodes.push(
      { op: 'MatMul', inputs: [x, up], outputs: [`u_${i}`] },
      { op: 'MatMul', inputs: [`u_${i}`, down], outputs: [`d_${i}`] },
    );
    x = `d_${i}`;
  }
  b.nodes.push({ op: 'Identity', inputs: [x], outputs: ['y'] });
  return encodeModel(
    'matmul_probe',
    b.nodes,
    b.inits,
    [valueInfo('x', FLOAT, ['batch_size', 'rows', 768])],
    [valueInfo('y', FLOAT, ['batch_size', 'rows', 768])],
    OPSET,
  );
}

/** Multiply-accumulates of one probe run over `tokens` rows (all batches together). */
export function matmulProbeMacs(tokens: number, repeats = 8): number {
  return repeats * 2 * tokens * 768 * 3072;
}

/** Surrogate towers (and the MatMul probe) in a temp dir, generated once (≈ 0.6 GB), under the fp32 file names. */
export async function ensureSurrogateClipModels(): Promise<{ dir: string; probe: string }> {
  const dir = join(tmpdir(), `loralens-surrogate-clip-v${SURROGATE_VERSION}`);
  const probe = join(dir, 'matmul_probe.onnx');
  try {
    await stat(probe);
    return { dir, probe };
  } catch {
    await mkdir(dir, { recursive: true });
    for (const [name, make] of [
      ['vision_model.onnx', () => surrogateVisionModel(4321)],
      ['text_model.onnx', () => surrogateTextModel(4321)],
      ['matmul_probe.onnx', () => matmulProbeModel()],
    ] as const) {
      const tmp = join(dir, `${name}.${process.pid}.tmp`);
      await writeFile(tmp, make());
      await rename(tmp, join(dir, name));
    }
    return { dir, probe };
  }
}
