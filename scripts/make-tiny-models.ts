/**
 * Writes tiny CLIP-shaped ONNX encoders (seeded random weights, < 1 MB each) with the input/output
 * names, dtypes and shapes of the Transformers.js/Optimum exports of openai/clip-vit-base-patch32
 * (xenova/transformers.js:scripts/extra/clip.py: CLIPVisionModelWithProjectionOnnxConfig outputs
 * `image_embeds`, CLIPTextModelWithProjectionOnnxConfig outputs `text_embeds`; inputs `pixel_values`
 * float32 [batch_size,3,224,224] and `input_ids` int64 [batch_size,sequence_length]). Tests generate them
 * on demand into a temp dir; `tsx scripts/make-tiny-models.ts [outDir]` writes them by hand.
 */
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { seededRandom } from '../src/analysis/stats/random.ts';

// The subset of onnx/onnx:onnx/onnx.proto needed here (field numbers as upstream).
const ONNX_SUBSET = `
syntax = "proto2";
package onnx;
message AttributeProto {
  optional string name = 1; optional float f = 2; optional int64 i = 3; optional bytes s = 4;
  optional TensorProto t = 5; repeated float floats = 7; repeated int64 ints = 8; optional int32 type = 20;
}
message ValueInfoProto { optional string name = 1; optional TypeProto type = 2; }
message NodeProto {
  repeated string input = 1; repeated string output = 2; optional string name = 3;
  optional string op_type = 4; repeated AttributeProto attribute = 5; optional string domain = 7;
}
message ModelProto {
  optional int64 ir_version = 1; optional string producer_name = 2; optional string producer_version = 3;
  optional string domain = 4; optional int64 model_version = 5; optional string doc_string = 6;
  optional GraphProto graph = 7; repeated OperatorSetIdProto opset_import = 8;
}
message GraphProto {
  repeated NodeProto node = 1; optional string name = 2; repeated TensorProto initializer = 5;
  optional string doc_string = 10; repeated ValueInfoProto input = 11; repeated ValueInfoProto output = 12;
}
message TensorProto {
  repeated int64 dims = 1; optional int32 data_type = 2; optional string name = 8; optional bytes raw_data = 9;
}
message TensorShapeProto {
  message Dimension { oneof value { int64 dim_value = 1; string dim_param = 2; } }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { optional int32 elem_type = 1; optional TensorShapeProto shape = 2; }
  oneof value { Tensor tensor_type = 1; }
}
message OperatorSetIdProto { optional string domain = 1; optional int64 version = 2; }
`;

export const FLOAT = 1;
export const INT64 = 7;
const ATTR_INT = 2;
const ATTR_INTS = 7;
/** Bump when the graphs change, so cached copies in the temp dir are regenerated. */
export const TINY_MODELS_VERSION = 3;
export const TINY_EMBED_DIM = 512;

type Dim = number | string;
export interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, number | number[]>;
}

export function valueInfo(name: string, elemType: number, dims: Dim[]) {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export function floatTensor(name: string, dims: number[], values: Float32Array) {
  return {
    name,
    dims,
    dataType: FLOAT,
    rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
  };
}

export function int64Tensor(name: string, values: number[]) {
  const buf = new BigInt64Array(values.map((v) => BigInt(v)));
  return { name, dims: [values.length], dataType: INT64, rawData: new Uint8Array(buf.buffer) };
}

export function randomMatrix(
  rng: ReturnType<typeof seededRandom>,
  rows: number,
  cols: number,
  scale: number,
): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = rng.normal() * scale;
  return out;
}

export function encodeModel(
  graphName: string,
  nodes: Node[],
  initializers: unknown[],
  inputs: unknown[],
  outputs: unknown[],
  opset = 14,
): Uint8Array {
  const root = protobuf.parse(ONNX_SUBSET).root;
  const ModelProto = root.lookupType('onnx.ModelProto');
  const model = {
    irVersion: 8,
    producerName: 'loralens-make-tiny-models',
    producerVersion: String(TINY_MODELS_VERSION),
    opsetImport: [{ domain: '', version: opset }],
    graph: {
      name: graphName,
      node: nodes.map((n, i) => ({
        name: `${n.op}_${i}`,
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs ?? {}).map(([name, v]) =>
          Array.isArray(v) ? { name, type: ATTR_INTS, ints: v } : { name, type: ATTR_INT, i: v },
        ),
      })),
      initializer: initializers,
      input: inputs,
      output: outputs,
    },
  };
  const err = ModelProto.verify(model);
  if (err) throw new Error(`tiny model does not verify: ${err}`);
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}

/** Vision tower: pixel_values [B,3,224,224] → 28×28 average pool → MLP → image_embeds [B,512]. */
export function tinyVisionModel(seed: number): Uint8Array {
  const rng = seededRandom(seed);
  return encodeModel(
    'tiny_clip_vision',
    [
      {
        op: 'AveragePool',
        inputs: ['pixel_values'],
        outputs: ['pooled'],
        attrs: { kernel_shape: [28, 28], strides: [28, 28] },
      },
      { op: 'Flatten', inputs: ['pooled'], outputs: ['flat'], attrs: { axis: 1 } },
      { op: 'MatMul', inputs: ['flat', 'w1'], outputs: ['h1'] },
      { op: 'Tanh', inputs: ['h1'], outputs: ['a1'] },
      { op: 'MatMul', inputs: ['a1', 'w2'], outputs: ['h2'] },
      { op: 'Add', inputs: ['h2', 'b2'], outputs: ['image_embeds'] },
    ],
    [
      floatTensor('w1', [192, 96], randomMatrix(rng, 192, 96, 0.3)),
      floatTensor('w2', [96, TINY_EMBED_DIM], randomMatrix(rng, 96, TINY_EMBED_DIM, 0.2)),
      floatTensor('b2', [TINY_EMBED_DIM], randomMatrix(rng, 1, TINY_EMBED_DIM, 0.05)),
    ],
    [valueInfo('pixel_values', FLOAT, ['batch_size', 3, 224, 224])],
    [valueInfo('image_embeds', FLOAT, ['batch_size', TINY_EMBED_DIM])],
  );
}

/** An int64 scalar (0-d) initializer. */
export function int64Scalar(name: string, value: number) {
  const buf = new BigInt64Array([BigInt(value)]);
  return { name, dims: [], dataType: INT64, rawData: new Uint8Array(buf.buffer) };
}

/**
 * Nodes that slice a [77, width] position table to the input's sequence length (input_ids [B,S]),
 * so the text towers take any S ≤ 77 like the real export (dynamic `sequence_length` axis).
 * Needs initializers `one_1d` = [1], `two_1d` = [2], `zero_1d` = [0].
 */
export function positionSliceNodes(posTable: string, out: string): Node[] {
  return [
    { op: 'Shape', inputs: ['input_ids'], outputs: ['ids_shape'] },
    { op: 'Slice', inputs: ['ids_shape', 'one_1d', 'two_1d'], outputs: ['seq_len'] },
    { op: 'Slice', inputs: [posTable, 'zero_1d', 'seq_len', 'zero_1d'], outputs: [out] },
  ];
}

/**
 * Text tower, causal and pooled at the end-of-text token like CLIP's: input_ids [B,S] int64 →
 * (id mod 4096) embedding lookup + position embedding → tanh → running sum over the sequence (each
 * position sees only itself and earlier ones) → tanh → the state at the position of id 49407 →
 * projection → text_embeds [B,512]. Positions after the end-of-text token cannot change the output,
 * so a window run at its real length equals the same window padded to 77 (the property the scorer's
 * shorter text windows rely on). With `attentionMask`, an `attention_mask` [B,S] int64 input zeroes
 * padded positions first (Optimum text exports may take one).
 */
export function tinyTextModel(seed: number, options: { attentionMask?: boolean } = {}): Uint8Array {
  const rng = seededRandom(seed + 1);
  const table = 4096;
  const width = 24;
  const nodes: Node[] = [
    { op: 'Mod', inputs: ['input_ids', 'vocab_mod'], outputs: ['ids_mod'], attrs: { fmod: 0 } },
    { op: 'Gather', inputs: ['token_table', 'ids_mod'], outputs: ['tok'], attrs: { axis: 0 } },
    ...positionSliceNodes('pos_table', 'pos'),
    { op: 'Add', inputs: ['tok', 'pos'], outputs: ['tok_pos'] },
    { op: 'Tanh', inputs: ['tok_pos'], outputs: ['act'] },
  ];
  let causalInput = 'act';
  if (options.attentionMask) {
    nodes.push(
      { op: 'Cast', inputs: ['attention_mask'], outputs: ['mask_f'], attrs: { to: FLOAT } },
      { op: 'Unsqueeze', inputs: ['mask_f', 'axis2'], outputs: ['mask3'] },
      { op: 'Mul', inputs: ['act', 'mask3'], outputs: ['masked'] },
    );
    causalInput = 'masked';
  }
  nodes.push(
    { op: 'CumSum', inputs: [causalInput, 'seq_axis'], outputs: ['running'] },
    { op: 'Tanh', inputs: ['running'], outputs: ['state'] },
    { op: 'Equal', inputs: ['input_ids', 'eot_id'], outputs: ['is_eot'] },
    { op: 'Cast', inputs: ['is_eot'], outputs: ['eot_f'], attrs: { to: FLOAT } },
    { op: 'Unsqueeze', inputs: ['eot_f', 'axis2'], outputs: ['eot3'] },
    { op: 'Mul', inputs: ['state', 'eot3'], outputs: ['at_eot'] },
    { op: 'ReduceSum', inputs: ['at_eot', 'axis1'], outputs: ['pooled'], attrs: { keepdims: 0 } },
    { op: 'MatMul', inputs: ['pooled', 'proj'], outputs: ['text_embeds'] },
  );
  const inputs = [valueInfo('input_ids', INT64, ['batch_size', 'sequence_length'])];
  if (options.attentionMask)
    inputs.push(valueInfo('attention_mask', INT64, ['batch_size', 'sequence_length']));
  return encodeModel(
    'tiny_clip_text',
    nodes,
    [
      int64Tensor('vocab_mod', [table]),
      int64Tensor('axis2', [2]),
      int64Tensor('axis1', [1]),
      int64Tensor('zero_1d', [0]),
      int64Tensor('one_1d', [1]),
      int64Tensor('two_1d', [2]),
      int64Scalar('seq_axis', 1),
      int64Tensor('eot_id', [49407]),
      floatTensor('token_table', [table, width], randomMatrix(rng, table, width, 1)),
      floatTensor('pos_table', [77, width], randomMatrix(rng, 77, width, 0.1)),
      floatTensor('proj', [width, TINY_EMBED_DIM], randomMatrix(rng, width, TINY_EMBED_DIM, 0.3)),
    ],
    inputs,
    [valueInfo('text_embeds', FLOAT, ['batch_size', TINY_EMBED_DIM])],
  );
}

export interface TinyModelFiles {
  dir: string;
  vision: string;
  text: string;
}

/**
 * Write `vision_model.onnx` and `text_model.onnx` (the manifest's fp32 file names) into `dir`, plus
 * `*_quantized.onnx` copies so both variants load. Atomic per file; returns the paths.
 */
export async function makeTinyClipModels(
  dir: string,
  options: { seed?: number; attentionMask?: boolean } = {},
): Promise<TinyModelFiles> {
  const seed = options.seed ?? 1234;
  await mkdir(dir, { recursive: true });
  const files: Array<[string, Uint8Array]> = [
    ['vision_model.onnx', tinyVisionModel(seed)],
    ['text_model.onnx', tinyTextModel(seed, options)],
    ['vision_model_quantized.onnx', tinyVisionModel(seed)],
    ['text_model_quantized.onnx', tinyTextModel(seed, options)],
  ];
  for (const [name, bytes] of files) {
    const tmp = join(dir, `${name}.${process.pid}.tmp`);
    await writeFile(tmp, bytes);
    await rename(tmp, join(dir, name));
  }
  return { dir, vision: join(dir, 'vision_model.onnx'), text: join(dir, 'text_model.onnx') };
}

/** Tiny models in a shared temp dir, generated when missing (tests start from a clean clone). */
export async function ensureTinyClipModels(
  options: { attentionMask?: boolean } = {},
): Promise<TinyModelFiles> {
  const dir = join(
    tmpdir(),
    `loralens-tiny-clip-v${TINY_MODELS_VERSION}${options.attentionMask ? '-mask' : ''}`,
  );
  try {
    await stat(join(dir, 'text_model_quantized.onnx'));
    return { dir, vision: join(dir, 'vision_model.onnx'), text: join(dir, 'text_model.onnx') };
  } catch {
    return makeTinyClipModels(dir, options);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = resolve(process.argv[2] ?? 'assets/models/tiny');
  const files = await makeTinyClipModels(out);
  console.log(`tiny CLIP models written to ${files.dir}`);
}
