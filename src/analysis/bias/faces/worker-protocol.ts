import type { ErrorCode } from '../../errors.ts';
import type { SampleImageRef } from '../../images/features.ts';
import type { FaceResult } from './types.ts';

/** What the faces worker is started with. */
export interface FaceWorkerData {
  modelDir?: string;
  /** Run the anime-face cascade too. */
  anime: boolean;
}

export type FaceWorkerRequest =
  | {
      kind: 'detect';
      id: number;
      /** A copy of the decoded RGB(A) pixels, transferred (the pass's decode is shared with other extractors). */
      data: Uint8Array;
      width: number;
      height: number;
      channels: number;
      ref: SampleImageRef;
    }
  | { kind: 'close' };

export type FaceWorkerReply =
  | { kind: 'result'; id: number; result: FaceResult }
  | { kind: 'error'; id: number; message: string; code?: ErrorCode };
