/**
 * Pairs of tags one edit apart (a typo, a singular/plural), found with deletion neighbourhoods: two tags
 * are a pair when they share a key, the keys of a tag being the tag itself and every string one
 * character shorter. The keys are never built as strings: each is a pair of polynomial hashes computed
 * from prefix hashes in O(1), so a tag of length L costs O(L) time and memory instead of O(L²)
 * (a single 16 384-character tag used to build 268 M characters of keys). A pair counts only after
 * its tags are checked, in O(L), to really share a key, so two keys that hash alike cannot make one.
 */

/** A key shared by more tags than this is too common to mean a typo (e.g. many `…s` plurals). */
export const MAX_BUCKET = 20;
/** Distinct pairs kept; beyond this the count is reported as a lower bound. */
export const MAX_PAIRS = 10_000;
/** Tags shorter than this are not compared (too many legitimate one-edit neighbours). */
export const MIN_LENGTH = 5;

const P1 = 67_108_859;
const P2 = 67_108_837;
const B1 = 131;
const B2 = 257;
/** Entries are packed as tagIndex × KEY_SLOTS + keyPosition (0 = the tag, 1 + i = without char i). */
const KEY_SLOTS = 1 << 20;

export interface SimilarTagsWork {
  /** Keys hashed plus characters compared: linear in the total length of the tags. */
  units: number;
}

export interface SimilarTags {
  /** Distinct pairs found (at most MAX_PAIRS), each [smaller, larger] in code-unit order. */
  pairs: Array<[string, string]>;
  /** True when more than MAX_PAIRS pairs exist. */
  capped: boolean;
}

/** True when `long` without one of its characters is `short` (|long| = |short| + 1). */
function isDeletion(long: string, short: string): boolean {
  let p = 0;
  while (p < short.length && long[p] === short[p]) p++;
  return long.slice(p + 1) === short.slice(p);
}

/** True when a without char i equals b without char j for some i < j (|a| = |b|, a ≠ b). */
function shiftedDeletion(a: string, b: string, prefix: number, suffix: number): boolean {
  for (let k = prefix; k < a.length - 1 - suffix; k++) if (a[k + 1] !== b[k]) return false;
  return true;
}

/** True when two distinct tags share a key: one is the other less a character, or both less one. */
function shareKey(a: string, b: string): boolean {
  if (a.length === b.length + 1) return isDeletion(a, b);
  if (b.length === a.length + 1) return isDeletion(b, a);
  if (a.length !== b.length) return false;
  const n = a.length;
  let prefix = 0;
  while (prefix < n && a[prefix] === b[prefix]) prefix++;
  let suffix = 0;
  while (suffix < n - prefix && a[n - 1 - suffix] === b[n - 1 - suffix]) suffix++;
  if (prefix + suffix >= n - 1) return true;
  return shiftedDeletion(a, b, prefix, suffix) || shiftedDeletion(b, a, prefix, suffix);
}

const stripDigits = (s: string): string => s.replace(/\d/g, '');

/**
 * Finds tag pairs one edit apart, skipping pairs that differ only in digits (`2girls`/`3girls`); tags
 * must be distinct and at most KEY_SLOTS − 1 long. Pairs come in the order their shared key was first
 * met, tags in input order.
 */
export function findSimilarTags(tags: readonly string[], work: SimilarTagsWork = { units: 0 }): SimilarTags {
  // key hash → one packed entry, or the entries of every tag sharing it in tag order.
  const buckets = new Map<number, number | number[]>();
  const add = (hash: number, entry: number, tagIndex: number): void => {
    const known = buckets.get(hash);
    if (known === undefined) {
      buckets.set(hash, entry);
      return;
    }
    const list = typeof known === 'number' ? [known] : known;
    // A tag meets the same key twice when a run of one character is shortened at two places.
    if (Math.floor((list.at(-1) as number) / KEY_SLOTS) === tagIndex) return;
    list.push(entry);
    if (typeof known === 'number') buckets.set(hash, list);
  };
  const pre1: number[] = [];
  const pre2: number[] = [];
  const pow1: number[] = [1];
  const pow2: number[] = [1];
  for (let t = 0; t < tags.length; t++) {
    const tag = tags[t] as string;
    const n = tag.length;
    if (n < MIN_LENGTH || n >= KEY_SLOTS) continue;
    pre1.length = 0;
    pre2.length = 0;
    pre1.push(0);
    pre2.push(0);
    for (let k = 0; k < n; k++) {
      const c = tag.charCodeAt(k) + 1;
      pre1.push(((pre1[k] as number) * B1 + c) % P1);
      pre2.push(((pre2[k] as number) * B2 + c) % P2);
      if (pow1.length <= k + 1) {
        pow1.push(((pow1[k] as number) * B1) % P1);
        pow2.push(((pow2[k] as number) * B2) % P2);
      }
    }
    const whole1 = pre1[n] as number;
    const whole2 = pre2[n] as number;
    // The length is part of the key: the tag (length n) and its deletions (n − 1) never mix by accident.
    const pack = (h1: number, h2: number, length: number): number =>
      ((h1 + length * 7919) % P1) * P2 + ((h2 + length * 104_729) % P2);
    add(pack(whole1, whole2, n), t * KEY_SLOTS, t);
    for (let i = 0; i < n; i++) {
      // hash(tag without char i) = hash(prefix) · B^(n−1−i) + hash(suffix after i)
      const suffix1 = (whole1 - (((pre1[i + 1] as number) * (pow1[n - i - 1] as number)) % P1) + P1) % P1;
      const suffix2 = (whole2 - (((pre2[i + 1] as number) * (pow2[n - i - 1] as number)) % P2) + P2) % P2;
      const h1 = (((pre1[i] as number) * (pow1[n - 1 - i] as number)) % P1) + suffix1;
      const h2 = (((pre2[i] as number) * (pow2[n - 1 - i] as number)) % P2) + suffix2;
      add(pack(h1 % P1, h2 % P2, n - 1), t * KEY_SLOTS + i + 1, t);
    }
    work.units += n + 1;
  }

  const pairs = new Map<string, [string, string]>();
  let capped = false;
  const addPairs = (members: number[]): void => {
    if (members.length < 2 || members.length > MAX_BUCKET) return;
    for (let i = 0; i < members.length; i++) {
      for (let j = i + 1; j < members.length; j++) {
        const a = tags[members[i] as number] as string;
        const b = tags[members[j] as number] as string;
        if (stripDigits(a) === stripDigits(b)) continue;
        const [x, y] = a < b ? [a, b] : [b, a];
        const id = `${x}\u0000${y}`;
        if (pairs.has(id)) continue;
        work.units += x.length + y.length;
        // Two different keys can hash alike: a pair counts only when the tags really share a key.
        if (!shareKey(x, y)) continue;
        if (pairs.size >= MAX_PAIRS) {
          capped = true;
          return;
        }
        pairs.set(id, [x, y]);
      }
    }
  };
  for (const value of buckets.values()) {
    if (typeof value !== 'number') addPairs(value.map((entry) => Math.floor(entry / KEY_SLOTS)));
  }
  return { pairs: [...pairs.values()], capped };
}
