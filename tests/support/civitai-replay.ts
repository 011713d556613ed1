import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { stringify as devalueStringify } from 'devalue';
import sharp from 'sharp';
import superjson from 'superjson';
import { type Catalogue, type Json, versionsOf } from './catalogue.ts';

export type FaultKind = '429' | '500' | '503' | 'hang' | 'truncate' | 'missing-field' | 'reset' | 'cut';

export interface Fault {
  /** Which requests it hits (matched against path + query). */
  match: RegExp;
  kind: FaultKind;
  /** How many matching requests it hits before it stops (default 1). */
  times?: number;
  /** Seconds, sent as Retry-After with 429/503. */
  retryAfter?: number;
  /** For 'missing-field': the top-level or item field to delete (e.g. "items.0.id" or "name"). */
  field?: string;
}

export interface ReplayOptions {
  catalogue: Catalogue;
  /** 'ignore' answers Range requests with 200 and the whole file, as Civitai's storage sometimes does. */
  rangeMode?: 'honour' | 'ignore';
  /** tRPC answers as a devalue string instead of superjson. */
  trpcEncoding?: 'superjson' | 'devalue';
  /** Redirect downloads to this origin instead of our own (to test host verification). */
  storageOrigin?: string;
  /** Size of the fake tensor data in served model files (default 4 MiB). */
  tensorBytes?: number;
  /** Milliseconds added before every answer (to make crawls slow enough to interrupt). */
  delayMs?: number;
  faults?: Fault[];
  /** Port on 127.0.0.1 (default: any free port). */
  port?: number;
  /** Bytes of the CDN image with this id (e.g. real sample images for the demo); else a generated PNG. */
  cdnImage?: (id: number) => { bytes: Buffer; contentType: string } | undefined;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
}

export interface CivitaiReplay {
  url: string;
  requests: RecordedRequest[];
  inject(fault: Fault): void;
  close(): Promise<void>;
  /** Total bytes of model-file bodies sent (to prove headers are read without the whole file). */
  fileBytesSent: () => number;
}

const TENSOR_BYTES = 4 * 1024 * 1024;

/** A safetensors file: u64 LE header length, JSON header (with `__metadata__`), tensor bytes. */
export function buildSafetensors(
  metadata: Record<string, string> | null,
  tensorBytes = TENSOR_BYTES,
): Buffer {
  const header: Json = {
    'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight': {
      dtype: 'F16',
      shape: [4, tensorBytes / 8],
      data_offsets: [0, tensorBytes],
    },
  };
  if (metadata) header.__metadata__ = metadata;
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const data = Buffer.alloc(tensorBytes);
  for (let i = 0; i < data.length; i += 4096) data[i] = i & 0xff;
  return Buffer.concat([head, Buffer.from(json), data]);
}

function rewrite(body: unknown, origin: string): unknown {
  return JSON.parse(
    JSON.stringify(body)
      .replaceAll('https://image.civitai.com', `${origin}/cdn`)
      .replaceAll('https://civitai.com', origin),
  );
}

function deletePath(obj: unknown, path: string): void {
  const parts = path.split('.');
  let cur = obj as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) cur = cur?.[p] as Record<string, unknown>;
  if (cur) delete cur[parts.at(-1) as string];
}

/**
 * A local Civitai on 127.0.0.1: REST v1 (models with cursors, model, version, by-hash, images),
 * site tRPC (comments, reviews, review threads; Bearer required), downloads (302 → storage with
 * Range), CDN images (PNG made with sharp), and fault injection.
 */
export async function startCivitaiReplay(options: ReplayOptions): Promise<CivitaiReplay> {
  const cat = options.catalogue;
  const faults: Array<Fault & { left: number }> = (options.faults ?? []).map((f) => ({
    ...f,
    left: f.times ?? 1,
  }));
  const requests: RecordedRequest[] = [];
  const files = new Map<number, Buffer>();
  const pngCache = new Map<string, Buffer>();
  const hanging = new Set<ServerResponse>();
  let fileBytes = 0;
  let origin = '';

  const byId = new Map<number, Json>(cat.models.map((m) => [m.id as number, m]));
  const versionIndex = new Map<number, { model: Json; version: Json }>();
  const hashIndex = new Map<string, number>();
  for (const model of cat.models) {
    for (const version of versionsOf(model)) {
      versionIndex.set(version.id as number, { model, version });
      for (const f of (version.files as Json[]) ?? []) {
        for (const h of Object.values((f.hashes as Record<string, string>) ?? {}))
          hashIndex.set(h.toUpperCase(), version.id as number);
      }
    }
  }

  const send = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void => {
    const text = JSON.stringify(rewrite(body, origin));
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(text);
  };

  const sendJsonWithFaults = (
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    body: unknown,
  ): void => {
    const fault = takeFault(req, ['truncate', 'missing-field', 'cut']);
    if (fault?.kind === 'cut') {
      // Headers promise the whole body; half of it is sent, then the connection is dropped.
      const text = JSON.stringify(rewrite(body, origin));
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(text)),
      });
      res.write(text.slice(0, Math.floor(text.length / 2)));
      setTimeout(() => req.socket.destroy(), 20);
      return;
    }
    if (fault?.kind === 'missing-field' && fault.field) {
      const copy = structuredClone(body);
      deletePath(copy, fault.field);
      send(res, status, copy);
      return;
    }
    if (fault?.kind === 'truncate') {
      const text = JSON.stringify(rewrite(body, origin));
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(text.slice(0, Math.floor(text.length / 2)));
      return;
    }
    send(res, status, body);
  };

  function takeFault(req: IncomingMessage, kinds: FaultKind[]): (Fault & { left: number }) | undefined {
    const target = req.url ?? '';
    const fault = faults.find(
      (f) => f.left > 0 && kinds.includes(f.kind) && f.match.test(decodeURIComponent(target)),
    );
    if (fault) fault.left--;
    return fault;
  }

  const listModels = (url: URL): Json => {
    const limit = Math.min(100, Number(url.searchParams.get('limit') ?? 100));
    const page = url.searchParams.get('page');
    if (page && Number(page) * limit > 1000)
      return { __status: 429, error: "You've requested too many pages, please use cursors instead" };
    const types = url.searchParams.getAll('types');
    const query = url.searchParams.get('query')?.toLowerCase();
    const sort = url.searchParams.get('sort') ?? 'Highest Rated';
    let items = cat.models.filter((m) => types.length === 0 || types.includes(m.type as string));
    if (query) items = items.filter((m) => String(m.name).toLowerCase().includes(query));
    if (sort === 'Newest') {
      items = [...items].sort((a, b) =>
        String(versionsOf(b)[0]?.publishedAt).localeCompare(String(versionsOf(a)[0]?.publishedAt)),
      );
    } else if (sort === 'Highest Rated') {
      items = [...items].sort(
        (a, b) => Number((b.stats as Json).thumbsUpCount ?? 0) - Number((a.stats as Json).thumbsUpCount ?? 0),
      );
    }
    const cursor = url.searchParams.get('cursor');
    const offset = cursor ? Number(cursor.split('|')[0]) : page ? (Number(page) - 1) * limit : 0;
    const slice = items.slice(offset, offset + limit);
    const nextOffset = offset + slice.length;
    const metadata: Json = {};
    if (nextOffset < items.length) {
      const last = slice.at(-1);
      metadata.nextCursor = `${nextOffset}|${last?.id}|${(last?.stats as Json)?.downloadCount}`;
      const next = new URL(url);
      next.searchParams.set('cursor', metadata.nextCursor as string);
      metadata.nextPage = `https://civitai.com${next.pathname}${next.search}`;
    }
    return { items: slice, metadata };
  };

  const versionDetail = (entry: { model: Json; version: Json }): Json => {
    const images = (cat.versionImages.get(entry.version.id as number) ?? []).slice(0, 10).map((im) => ({
      ...im,
      nsfwLevel:
        typeof im.nsfwLevel === 'number'
          ? im.nsfwLevel
          : (({ None: 1, Soft: 2, Mature: 4, X: 8 } as Json)[im.nsfwLevel as string] ?? 1),
    }));
    return {
      ...entry.version,
      modelId: entry.model.id,
      model: { name: entry.model.name, type: entry.model.type, nsfw: entry.model.nsfw ?? false, poi: false },
      images,
    };
  };

  const listImages = (url: URL): Json => {
    const vid = Number(url.searchParams.get('modelVersionId'));
    const withMeta = url.searchParams.get('withMeta') === 'true';
    const limit = Math.min(200, Number(url.searchParams.get('limit') ?? 100));
    const all = cat.versionImages.get(vid) ?? [];
    const cursor = url.searchParams.get('cursor');
    const offset = cursor ? Number(cursor.split('|')[0]) : 0;
    const slice = all
      .slice(offset, offset + limit)
      .map((im) => ({ ...im, meta: withMeta ? (im.meta ?? null) : null }));
    const metadata: Json = {};
    if (offset + slice.length < all.length)
      metadata.nextCursor = `${offset + slice.length}|${Date.UTC(2025, 0, 1)}`;
    return { items: slice, metadata };
  };

  const trpc = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    const procedure = url.pathname.slice('/api/trpc/'.length);
    if (!/^Bearer \S+/.test(req.headers.authorization ?? '')) {
      send(res, 401, {
        error: {
          json: {
            message: 'Please use the public API instead: https://developer.civitai.com/',
            code: -32001,
            data: { code: 'UNAUTHORIZED', httpStatus: 401, path: procedure },
          },
        },
      });
      return;
    }
    let input: Json = {};
    try {
      input = (JSON.parse(url.searchParams.get('input') ?? '{}') as { json?: Json }).json ?? {};
    } catch {
      send(res, 400, {
        error: { json: { message: 'bad input', data: { code: 'BAD_REQUEST', httpStatus: 400 } } },
      });
      return;
    }
    const page = (list: Json[], key: string): Json => {
      const limit = Number(input.limit ?? 20);
      const cursor = input.cursor as number | undefined;
      const start = cursor === undefined ? 0 : list.findIndex((c) => c.id === cursor);
      const slice = list.slice(Math.max(0, start), Math.max(0, start) + limit);
      const next = list[Math.max(0, start) + limit];
      return { [key]: slice, ...(next ? { nextCursor: next.id } : {}) };
    };
    let payload: unknown;
    if (procedure === 'comment.getAll') {
      payload = page(cat.comments.get(Number(input.modelId)) ?? [], 'comments');
    } else if (procedure === 'resourceReview.getInfinite') {
      payload = page(cat.reviews.get(Number(input.modelId)) ?? [], 'items');
    } else if (procedure === 'commentv2.getInfinite') {
      const thread = cat.reviewThreads.get(Number(input.entityId));
      payload = thread ? page(thread, 'comments') : null;
    } else {
      send(res, 404, {
        error: {
          json: { message: `No procedure ${procedure}`, data: { code: 'NOT_FOUND', httpStatus: 404 } },
        },
      });
      return;
    }
    // Dates travel as Date objects, as Civitai's superjson does (meta.values marks them).
    const withDates = reviveDates(rewrite(payload, origin));
    const data =
      options.trpcEncoding === 'devalue'
        ? devalueStringify(withDates)
        : (superjson.serialize(withDates) as unknown);
    sendJsonWithFaults(req, res, 200, { result: { data } });
  };

  const download = (res: ServerResponse, vid: number): void => {
    if (!versionIndex.has(vid)) {
      send(res, 404, { error: 'File not found' });
      return;
    }
    const target = `${options.storageOrigin ?? origin}/storage/${vid}.safetensors?signature=replay`;
    res.writeHead(302, { location: target, 'cache-control': 'no-store' });
    res.end();
  };

  const storage = (req: IncomingMessage, res: ServerResponse, vid: number): void => {
    let file = files.get(vid);
    if (!file) {
      file = buildSafetensors(cat.headers.get(vid) ?? null, options.tensorBytes);
      files.set(vid, file);
    }
    const range = /^bytes=(\d+)-(\d+)?$/.exec(req.headers.range ?? '');
    if (!range || options.rangeMode === 'ignore') {
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(file.length),
      });
      // Stream in chunks so a client that aborts early really saves the bytes.
      let offset = 0;
      const pump = (): void => {
        while (offset < file.length) {
          const chunk = file.subarray(offset, offset + 65536);
          offset += chunk.length;
          fileBytes += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      res.on('close', () => {
        offset = file.length;
      });
      pump();
      return;
    }
    const start = Number(range[1]);
    const end = Math.min(file.length - 1, range[2] === undefined ? file.length - 1 : Number(range[2]));
    if (start >= file.length) {
      res.writeHead(416, { 'content-range': `bytes */${file.length}` });
      res.end();
      return;
    }
    const body = file.subarray(start, end + 1);
    fileBytes += body.length;
    res.writeHead(206, {
      'content-type': 'application/octet-stream',
      'content-range': `bytes ${start}-${end}/${file.length}`,
      'content-length': String(body.length),
    });
    res.end(body);
  };

  const cdn = async (res: ServerResponse, path: string): Promise<void> => {
    const id = Number(/\/(\d+)\.[a-z0-9]+$/i.exec(path)?.[1] ?? 0);
    if (path.endsWith('.mp4')) {
      res.writeHead(200, { 'content-type': 'video/mp4' });
      res.end(Buffer.from('00000018667479706d703432', 'hex'));
      return;
    }
    const real = options.cdnImage?.(id);
    if (real) {
      res.writeHead(200, { 'content-type': real.contentType, 'content-length': String(real.bytes.length) });
      res.end(real.bytes);
      return;
    }
    let png = pngCache.get(path);
    if (!png) {
      const colour = cat.imageColours?.get(id) ?? [(id * 37) % 256, (id * 91) % 256, (id * 53) % 256];
      png = await sharp({
        create: {
          width: 96,
          height: 128,
          channels: 3,
          background: { r: colour[0], g: colour[1], b: colour[2] },
        },
      })
        .png()
        .toBuffer();
      pngCache.set(path, png);
    }
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(png.length) });
    res.end(png);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', origin);
    requests.push({
      method: req.method ?? 'GET',
      path: `${url.pathname}${url.search}`,
      headers: req.headers,
    });
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    const fault = takeFault(req, ['429', '500', '503', 'hang', 'reset']);
    if (fault) {
      if (fault.kind === 'hang') {
        hanging.add(res);
        return;
      }
      if (fault.kind === 'reset') {
        req.socket.destroy();
        return;
      }
      const headers: Record<string, string> =
        fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) };
      send(
        res,
        Number(fault.kind),
        { error: fault.kind === '429' ? 'Too Many Requests' : 'Server busy, please retry shortly.' },
        headers,
      );
      return;
    }
    const p = url.pathname;
    const routes: Array<[RegExp, (m: RegExpExecArray) => void | Promise<void>]> = [
      [
        /^\/api\/v1\/models$/,
        () => {
          const body = listModels(url);
          if (body.__status) send(res, body.__status as number, { error: body.error });
          else sendJsonWithFaults(req, res, 200, body);
        },
      ],
      [
        /^\/api\/v1\/models\/(\d+)$/,
        (m) => {
          const model = byId.get(Number(m[1]));
          if (!model) send(res, 404, { error: `No model with id ${m[1]}` });
          else sendJsonWithFaults(req, res, 200, model);
        },
      ],
      [
        /^\/api\/v1\/model-versions\/by-hash\/([0-9A-Za-z]+)$/,
        (m) => {
          const vid = hashIndex.get(String(m[1]).toUpperCase());
          const entry = vid === undefined ? undefined : versionIndex.get(vid);
          if (!entry) send(res, 404, { error: 'Model not found' });
          else sendJsonWithFaults(req, res, 200, versionDetail(entry));
        },
      ],
      [
        /^\/api\/v1\/model-versions\/(\d+)$/,
        (m) => {
          const entry = versionIndex.get(Number(m[1]));
          if (!entry) send(res, 404, { error: 'Model not found' });
          else sendJsonWithFaults(req, res, 200, versionDetail(entry));
        },
      ],
      [/^\/api\/v1\/images$/, () => sendJsonWithFaults(req, res, 200, listImages(url))],
      [/^\/api\/trpc\//, () => trpc(req, res, url)],
      [/^\/api\/download\/models\/(\d+)$/, (m) => download(res, Number(m[1]))],
      [/^\/storage\/(\d+)\.safetensors$/, (m) => storage(req, res, Number(m[1]))],
      [/^\/cdn\//, () => cdn(res, p)],
    ];
    for (const [pattern, route] of routes) {
      const m = pattern.exec(p);
      if (m) {
        await route(m);
        return;
      }
    }
    send(res, 404, { error: 'Not found' });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: origin,
    requests,
    inject(fault) {
      faults.push({ ...fault, left: fault.times ?? 1 });
    },
    fileBytesSent: () => fileBytes,
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function reviveDates(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reviveDates);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Json).map(([k, v]) => [
        k,
        k === 'createdAt' && typeof v === 'string' && !Number.isNaN(Date.parse(v))
          ? new Date(v)
          : reviveDates(v),
      ]),
    );
  }
  return value;
}
