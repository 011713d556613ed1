import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { closeLocal, listenLocal } from '../support/local-server.ts';

/** What the proxy does instead of passing an answer through. */
export const PROXY_FAULTS = ['429', '500', '502', '503', 'reset', 'cut', 'truncate'] as const;
export type ProxyFault = (typeof PROXY_FAULTS)[number];

export interface FaultProxyOptions {
  /** Share of requests that get a fault (0 = a transparent proxy). */
  rate: number;
  seed: number;
  kinds?: readonly ProxyFault[];
}

export interface ProxiedRequest {
  path: string;
  /** How many times this method + path (+ Range) was asked for before, by this client. */
  attempt: number;
  fault: ProxyFault | null;
  status: number | null;
}

export interface FaultProxy {
  url: string;
  /** Point at the replay server (it may start after the proxy, to redirect storage through it). */
  upstream: string;
  options: FaultProxyOptions;
  log: ProxiedRequest[];
  /** Forget the log and the per-path attempt counts (between runs). */
  reset(): void;
  close(): Promise<void>;
}

/**
 * A seeded fault proxy on 127.0.0.1 in front of the replay server. Whether a request gets a fault,
 * and which, is a hash of (seed, method, path, Range, attempt number): the same requests get the
 * same faults whatever order concurrency puts them in. Faults: 429 (Retry-After: 1), 500/502/503,
 * `reset` (socket destroyed before any answer), `cut` (Content-Length kept, half the body, socket
 * destroyed) and `truncate` (no Content-Length, half the body, a clean end). The upstream origin is
 * rewritten to the proxy's in JSON bodies and Location headers, so every later request (downloads,
 * storage redirects) comes back through the proxy.
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const attempts = new Map<string, number>();
  const proxy: FaultProxy = {
    url: '',
    upstream: '',
    options,
    log: [],
    reset() {
      attempts.clear();
      proxy.log.length = 0;
    },
    close: () => closeLocal(server),
  };

  const decide = (key: string, attempt: number): ProxyFault | null => {
    const h = createHash('sha256').update(`${proxy.options.seed}|${key}|${attempt}`).digest();
    const roll = h.readUInt32BE(0) / 2 ** 32;
    if (roll >= proxy.options.rate) return null;
    const kinds = proxy.options.kinds ?? PROXY_FAULTS;
    return kinds[h.readUInt32BE(4) % kinds.length] as ProxyFault;
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = req.url ?? '/';
    const key = `${req.method} ${path} ${req.headers.range ?? ''}`;
    const attempt = attempts.get(key) ?? 0;
    attempts.set(key, attempt + 1);
    const fault = decide(key, attempt);
    const entry: ProxiedRequest = { path, attempt, fault, status: null };
    proxy.log.push(entry);
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault === '429' || fault === '500' || fault === '502' || fault === '503') {
      entry.status = Number(fault);
      res.writeHead(Number(fault), {
        'content-type': 'application/json',
        ...(fault === '429' || fault === '503' ? { 'retry-after': '1' } : {}),
      });
      res.end(JSON.stringify({ error: fault === '429' ? 'Too Many Requests' : 'Server busy' }));
      return;
    }
    const up = new URL(path, proxy.upstream);
    const headers = { ...req.headers, host: up.host };
    const upstreamReq = request(up, { method: req.method, headers }, (upRes) => {
      const chunks: Buffer[] = [];
      upRes.on('data', (c: Buffer) => chunks.push(c));
      upRes.on('error', () => req.socket.destroy());
      upRes.on('end', () => {
        let body = Buffer.concat(chunks);
        const type = String(upRes.headers['content-type'] ?? '');
        if (type.includes('json'))
          body = Buffer.from(body.toString('utf8').replaceAll(proxy.upstream, proxy.url));
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(upRes.headers)) {
          if (v === undefined || k === 'transfer-encoding' || k === 'connection' || k === 'keep-alive')
            continue;
          out[k] = k === 'location' ? String(v).replace(proxy.upstream, proxy.url) : v;
        }
        out['content-length'] = String(body.length);
        const status = upRes.statusCode ?? 502;
        entry.status = status;
        // Half of an empty body (a redirect) is the whole body: no fault happened.
        if (body.length < 2) entry.fault = null;
        if (fault === 'cut' && entry.fault !== null) {
          res.writeHead(status, out);
          res.write(body.subarray(0, Math.floor(body.length / 2)));
          setTimeout(() => req.socket.destroy(), 5);
          return;
        }
        if (fault === 'truncate' && entry.fault !== null) {
          delete out['content-length'];
          res.writeHead(status, out);
          res.end(body.subarray(0, Math.floor(body.length / 2)));
          return;
        }
        res.writeHead(status, out);
        res.end(body);
      });
    });
    upstreamReq.on('error', () => req.socket.destroy());
    req.pipe(upstreamReq);
  };

  const server = createServer(handle);
  proxy.url = await listenLocal(server);
  return proxy;
}
