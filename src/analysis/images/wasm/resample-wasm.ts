/**
 * The WebAssembly SIMD build of Pillow's two resampling passes (resample.c), behind a small typed
 * wrapper that lays buffers out in the module's linear memory. One instance per thread, created on
 * first use; `null` when this runtime cannot compile it (callers then use the JS passes).
 */
import { RESAMPLE_WASM_BASE64 } from './resample-wasm.generated.ts';

// The little of the WebAssembly JS API used here (the project's lib has no DOM/WebWorker types).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
};

interface Exports {
  memory: WasmMemory;
  __heap_base: { value: number };
  horizontal(
    src: number,
    inStride: number,
    rows: number,
    ch: number,
    bounds: number,
    kk: number,
    ksize: number,
    outW: number,
    dst: number,
  ): void;
  vertical(
    src: number,
    rowLen: number,
    bounds: number,
    kk: number,
    ksize: number,
    outH: number,
    dst: number,
  ): void;
}

/** Bytes of slack after every buffer: the SIMD loops read and write up to 16 bytes past a row. */
const SLACK = 16;
const PAGE = 65_536;

/** A bump allocator over the module's memory, reset for every resize. */
export class WasmArena {
  private readonly base: number;
  private top: number;

  constructor(private readonly exports: Exports) {
    this.base = align(Number(exports.__heap_base.value));
    this.top = this.base;
  }

  reset(): void {
    this.top = this.base;
  }

  /** Reserve `bytes` (+ slack), growing memory when needed; returns the byte offset. */
  alloc(bytes: number): number {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`bad allocation size ${bytes}`);
    const at = this.top;
    this.top = align(at + bytes + SLACK);
    const have = this.exports.memory.buffer.byteLength;
    if (this.top > have) this.exports.memory.grow(Math.ceil((this.top - have) / PAGE));
    return at;
  }

  /** Views are taken after all allocations of a call: growing memory detaches earlier ones. */
  bytes(at: number, length: number): Uint8Array {
    return new Uint8Array(this.exports.memory.buffer, at, length);
  }

  int32(at: number, length: number): Int32Array {
    return new Int32Array(this.exports.memory.buffer, at, length);
  }

  get fns(): Exports {
    return this.exports;
  }
}

function align(n: number): number {
  return Math.ceil(n / 16) * 16;
}

let cached: WasmArena | null | undefined;

/** The per-thread instance, or null where WebAssembly SIMD is unavailable. */
export function resampleWasm(): WasmArena | null {
  if (cached !== undefined) return cached;
  try {
    const bytes = Buffer.from(RESAMPLE_WASM_BASE64, 'base64');
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
    cached = new WasmArena(instance.exports as unknown as Exports);
  } catch {
    cached = null;
  }
  return cached;
}
