import { Agent } from 'undici';
import { CivitaiClient, type ResponseCache } from '../../src/analysis/civitai/client.ts';
import { HttpClient, type HttpClientOptions } from '../../src/analysis/civitai/http.ts';
import type { Clock } from '../../src/analysis/ports.ts';

/** A clock whose sleeps return at once but are recorded (so backoff is asserted, not waited for). */
export function recordingClock(): Clock & { sleeps: number[] } {
  let now = Date.UTC(2026, 0, 1);
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

export function memoryResponseCache(): ResponseCache & { map: Map<string, unknown> } {
  const map = new Map<string, unknown>();
  return { map, get: async (k) => map.get(k), set: async (k, v) => void map.set(k, v) };
}

export interface TestClient {
  http: HttpClient;
  client: CivitaiClient;
  clock: ReturnType<typeof recordingClock>;
  close(): Promise<void>;
}

/** A real CivitaiClient over a real undici Agent pointed at a replay server. */
export function testClient(
  baseUrl: string,
  options: Partial<HttpClientOptions> & { apiKey?: string; cache?: ResponseCache } = {},
): TestClient {
  const dispatcher = new Agent({ connections: 8 });
  const clock = recordingClock();
  const http = new HttpClient({
    dispatcher,
    baseUrl,
    concurrency: 4,
    ratePerSecond: 1000,
    timeoutMs: 2000,
    deadlineMs: 60_000,
    clock,
    random: () => 0.5,
    ...options,
  });
  const client = new CivitaiClient({ http, hasApiKey: options.apiKey !== undefined, cache: options.cache });
  return { http, client, clock, close: () => dispatcher.close() };
}
