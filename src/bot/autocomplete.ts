import type { AuditService, ModelSearchHit } from '../analysis/audit/service.ts';
import type { Clock, Logger } from '../analysis/ports.ts';
import { looksLikeModelRef } from '../commands/audit-request.ts';
import { DiscordLimits, truncate } from '../commands/discord-limits.ts';
import type { AutocompleteChoice, ModelSearch } from '../commands/ports.ts';

export interface ModelSearchCacheOptions {
  service: Pick<AuditService, 'searchModels'>;
  clock: Clock;
  logger: Logger;
  ttlMs?: number;
  maxEntries?: number;
  /** Answer budget: Discord allows 3 s for an autocomplete answer, and it cannot be deferred. */
  budgetMs?: number;
}

interface Entry {
  at: number;
  hits: ModelSearchHit[];
}

/**
 * Model-name suggestions for autocomplete: cached per query (TTL + size bound), and answered within
 * the budget from the best cached prefix when Civitai is slow (the slow search still fills the cache).
 */
export class ModelSearchCache implements ModelSearch {
  readonly #opts: Required<Omit<ModelSearchCacheOptions, 'service' | 'clock' | 'logger'>> &
    ModelSearchCacheOptions;
  readonly #cache = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<ModelSearchHit[]>>();

  constructor(options: ModelSearchCacheOptions) {
    this.#opts = { ttlMs: 10 * 60_000, maxEntries: 500, budgetMs: 2_000, ...options };
  }

  async choices(query: string): Promise<AutocompleteChoice[]> {
    const q = query.trim();
    const direct: AutocompleteChoice[] = looksLikeModelRef(q)
      ? [{ name: truncate(q, DiscordLimits.choiceName), value: truncate(q, DiscordLimits.choiceValue) }]
      : [];
    if (direct.length > 0 && /^https?:/.test(q)) return direct;
    const hits = await this.search(q.toLowerCase());
    const seen = new Set(direct.map((c) => c.value));
    const out = [...direct];
    for (const hit of hits) {
      const value = String(hit.id);
      if (seen.has(value)) continue;
      seen.add(value);
      const label = [hit.name, hit.type, hit.creator].filter(Boolean).join(' · ');
      out.push({ name: truncate(label, DiscordLimits.choiceName), value });
      if (out.length >= DiscordLimits.autocompleteChoices) break;
    }
    return out;
  }

  async search(query: string): Promise<ModelSearchHit[]> {
    const fresh = this.#fresh(query);
    if (fresh) return fresh;
    let request = this.#inflight.get(query);
    if (!request) {
      request = this.#opts.service
        .searchModels(query, DiscordLimits.autocompleteChoices, AbortSignal.timeout(15_000))
        .then((hits) => {
          this.#store(query, hits);
          return hits;
        })
        .finally(() => this.#inflight.delete(query));
      this.#inflight.set(query, request);
    }
    const budget = new AbortController();
    const timeout = this.#opts.clock.sleep(this.#opts.budgetMs, budget.signal).then(
      () => null,
      () => null,
    );
    try {
      const winner = await Promise.race([request, timeout]);
      if (winner) return winner;
      this.#opts.logger.debug({ query }, 'model search slower than the autocomplete budget');
      return this.#fromPrefix(query);
    } catch (error) {
      this.#opts.logger.warn({ err: error, query }, 'model search failed');
      return this.#fromPrefix(query);
    } finally {
      budget.abort();
      request.catch(() => undefined);
    }
  }

  #fresh(query: string): ModelSearchHit[] | undefined {
    const entry = this.#cache.get(query);
    if (!entry) return undefined;
    if (this.#opts.clock.now() - entry.at > this.#opts.ttlMs) {
      this.#cache.delete(query);
      return undefined;
    }
    // Refresh the LRU position.
    this.#cache.delete(query);
    this.#cache.set(query, entry);
    return entry.hits;
  }

  #store(query: string, hits: ModelSearchHit[]): void {
    this.#cache.set(query, { at: this.#opts.clock.now(), hits });
    while (this.#cache.size > this.#opts.maxEntries) {
      const oldest = this.#cache.keys().next().value;
      if (oldest === undefined) break;
      this.#cache.delete(oldest);
    }
  }

  #fromPrefix(query: string): ModelSearchHit[] {
    let best: { length: number; hits: ModelSearchHit[] } | null = null;
    for (const [cached, entry] of this.#cache) {
      if (query.startsWith(cached) && (best === null || cached.length > best.length)) {
        best = { length: cached.length, hits: entry.hits };
      }
    }
    if (!best) return [];
    return best.hits.filter((h) => h.name.toLowerCase().includes(query));
  }
}
