/**
 * ONNX face detectors and landmark models over a decoded RGB image. Each factory opens its session once
 * (checking input/output names); `close()` releases it. Errors: MODEL_MISSING, MODEL_INVALID.
 */
import type { RawImage } from '../../images/pil-resample.ts';
import {
  blazeAnchors,
  decodeBlazeFace,
  decodeUltraface,
  decodeYunet,
  letterbox,
  MEDIAPIPE_FULL_LAYERS,
  MEDIAPIPE_SHORT_LAYERS,
  sigmoid,
  YUNET_STRIDES,
  type YunetLevel,
  yunetGeometry,
} from './decode.ts';
import { imageToTensor } from './resample.ts';
import { FACE_MODEL_FILES, modelPath, openFaceSession, ort, outputData } from './session.ts';
import type { Detection, FaceBox } from './types.ts';

export interface FaceDetector {
  readonly name: string;
  detect(image: RawImage): Promise<Detection[]>;
  close(): Promise<void>;
}

export interface DetectorOptions {
  /** Minimum score kept (each detector has its own scale and default). */
  threshold?: number;
  threads?: number;
}

const tensor = (data: Float32Array, dims: number[]): ort.Tensor => new ort.Tensor('float32', data, dims);

export type UltrafaceVariant = 'rfb-320' | 'slim-320' | 'rfb-640';

/** UltraFace (Linzaer): whole image stretched to 320×240 (640×480), (p − 127)/128, RGB; threshold 0.7, NMS 0.3. */
export async function createUltrafaceDetector(
  modelDir: string,
  variant: UltrafaceVariant = 'rfb-320',
  options: DetectorOptions = {},
): Promise<FaceDetector> {
  const file = {
    'rfb-320': FACE_MODEL_FILES.ultrafaceRfb320,
    'slim-320': FACE_MODEL_FILES.ultrafaceSlim320,
    'rfb-640': FACE_MODEL_FILES.ultrafaceRfb640,
  }[variant];
  const [w, h] = variant === 'rfb-640' ? [640, 480] : [320, 240];
  const session = await openFaceSession(
    modelPath(modelDir, file),
    ['input'],
    ['scores', 'boxes'],
    options.threads,
  );
  const threshold = options.threshold ?? 0.7;
  return {
    name: `ultraface-${variant}`,
    async detect(image) {
      const data = imageToTensor(image, {
        rect: { x: 0, y: 0, w: image.width, h: image.height },
        outW: w,
        outH: h,
        order: 'rgb',
        scale: 1 / 128,
        offset: -127 / 128,
      });
      const out = await session.run({ input: tensor(data, [1, 3, h, w]) });
      return decodeUltraface(
        outputData(out, 'scores'),
        outputData(out, 'boxes'),
        image.width,
        image.height,
        threshold,
      );
    },
    close: () => session.release(),
  };
}

/**
 * YuNet-n (dynamic input): longer side scaled to 640, padded bottom/right to multiples of 32, BGR 0..255;
 * score √(cls·obj) ≥ 0.6 (see docs/faces.md for how the threshold was chosen), NMS 0.3; 5 keypoints.
 */
export async function createYunetDetector(
  modelDir: string,
  options: DetectorOptions & { maxSide?: number } = {},
): Promise<FaceDetector> {
  const outputs = YUNET_STRIDES.flatMap((s) => [`cls_${s}`, `obj_${s}`, `bbox_${s}`, `kps_${s}`]);
  const session = await openFaceSession(
    modelPath(modelDir, FACE_MODEL_FILES.yunet),
    ['input'],
    outputs,
    options.threads,
  );
  const threshold = options.threshold ?? 0.6;
  const maxSide = options.maxSide ?? 640;
  return {
    name: 'yunet',
    async detect(image) {
      const g = yunetGeometry(image.width, image.height, maxSide);
      const data = imageToTensor(image, {
        rect: { x: 0, y: 0, w: image.width, h: image.height },
        outW: g.inW,
        outH: g.inH,
        tensorW: g.padW,
        tensorH: g.padH,
        order: 'bgr',
        scale: 1,
        offset: 0,
      });
      const out = await session.run({ input: tensor(data, [1, 3, g.padH, g.padW]) });
      const levels: YunetLevel[] = YUNET_STRIDES.map((s) => {
        const n = (g.padW / s) * (g.padH / s);
        return {
          stride: s,
          cls: outputData(out, `cls_${s}`, n),
          obj: outputData(out, `obj_${s}`, n),
          bbox: outputData(out, `bbox_${s}`, n * 4),
          kps: outputData(out, `kps_${s}`, n * 10),
        };
      });
      return decodeYunet(levels, g.padW, g.scale, threshold);
    },
    close: () => session.release(),
  };
}

export type MediapipeRange = 'short' | 'full';

/** MediaPipe BlazeFace: letterboxed square (black padding), 128 (short) / 192 (full), p/127.5 − 1, RGB; sigmoid ≥ 0.5. */
export async function createMediapipeDetector(
  modelDir: string,
  range: MediapipeRange = 'short',
  options: DetectorOptions = {},
): Promise<FaceDetector> {
  const short = range === 'short';
  const size = short ? 128 : 192;
  const [reg, cls] = short
    ? ['regressors', 'classificators']
    : ['reshaped_regressor_face_4', 'reshaped_classifier_face_4'];
  const session = await openFaceSession(
    modelPath(modelDir, short ? FACE_MODEL_FILES.mediapipeShort : FACE_MODEL_FILES.mediapipeFull),
    ['input'],
    [reg, cls],
    options.threads,
  );
  const anchors = blazeAnchors(short ? MEDIAPIPE_SHORT_LAYERS : MEDIAPIPE_FULL_LAYERS);
  const n = anchors.length / 2;
  const threshold = options.threshold ?? 0.5;
  return {
    name: `mediapipe-${range}`,
    async detect(image) {
      const lb = letterbox(image.width, image.height);
      const data = imageToTensor(image, {
        rect: { x: lb.x, y: lb.y, w: lb.side, h: lb.side },
        outW: size,
        outH: size,
        order: 'rgb',
        scale: 1 / 127.5,
        offset: -1,
      });
      const out = await session.run({ input: tensor(data, [1, 3, size, size]) });
      return decodeBlazeFace(
        outputData(out, reg, n * 16),
        outputData(out, cls, n),
        anchors,
        size,
        lb,
        threshold,
      );
    },
    close: () => session.release(),
  };
}

export interface LandmarkModel {
  readonly name: string;
  /** Landmarks in image pixels for the face in `box`. */
  landmarks(image: RawImage, box: FaceBox): Promise<[number, number][]>;
  close(): Promise<void>;
}

/** Peppa 68-point (iBUG layout): box enlarged 0.2·w / 0.2·h per side, 160×160, (p − 127)/127, BGR. */
export async function createPeppaLandmarks(
  modelDir: string,
  options: DetectorOptions = {},
): Promise<LandmarkModel> {
  const session = await openFaceSession(
    modelPath(modelDir, FACE_MODEL_FILES.peppa68),
    ['input1'],
    ['output1'],
    options.threads,
  );
  return {
    name: 'peppa-68',
    async landmarks(image, box) {
      const rect = { x: box.x - 0.2 * box.w, y: box.y - 0.2 * box.h, w: 1.4 * box.w, h: 1.4 * box.h };
      const data = imageToTensor(image, {
        rect,
        outW: 160,
        outH: 160,
        order: 'bgr',
        scale: 1 / 127,
        offset: -1,
      });
      const out = outputData(await session.run({ input1: tensor(data, [1, 3, 160, 160]) }), 'output1', 143);
      const points: [number, number][] = [];
      for (let i = 0; i < 68; i++)
        points.push([rect.x + out[2 * i]! * rect.w, rect.y + out[2 * i + 1]! * rect.h]);
      return points;
    },
    close: () => session.release(),
  };
}

/** MediaPipe FaceMesh (468 points): square crop 1.5× the box's longer side, 192×192, p/127.5 − 1, RGB. */
export async function createFaceMeshLandmarks(
  modelDir: string,
  options: DetectorOptions = {},
): Promise<LandmarkModel & { presence(image: RawImage, box: FaceBox): Promise<number> }> {
  const session = await openFaceSession(
    modelPath(modelDir, FACE_MODEL_FILES.facemesh),
    ['input_1'],
    ['conv2d_21', 'conv2d_31'],
    options.threads,
  );
  const run = async (image: RawImage, box: FaceBox) => {
    const side = 1.5 * Math.max(box.w, box.h);
    const rect = { x: box.x + box.w / 2 - side / 2, y: box.y + box.h / 2 - side / 2, w: side, h: side };
    const data = imageToTensor(image, {
      rect,
      outW: 192,
      outH: 192,
      order: 'rgb',
      scale: 1 / 127.5,
      offset: -1,
    });
    const out = await session.run({ input_1: tensor(data, [1, 3, 192, 192]) });
    return {
      rect,
      mesh: outputData(out, 'conv2d_21', 1404),
      presence: sigmoid(outputData(out, 'conv2d_31', 1)[0]!),
    };
  };
  return {
    name: 'facemesh-468',
    async landmarks(image, box) {
      const { rect, mesh } = await run(image, box);
      const points: [number, number][] = [];
      for (let i = 0; i < 468; i++) {
        points.push([rect.x + (mesh[i * 3]! / 192) * rect.w, rect.y + (mesh[i * 3 + 1]! / 192) * rect.h]);
      }
      return points;
    },
    presence: async (image, box) => (await run(image, box)).presence,
    close: () => session.release(),
  };
}
