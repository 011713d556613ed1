import { ModelRecord } from '../../src/analysis/civitai/record.ts';

/** A valid crawl record with nothing in it (no versions, no comments), plus any overrides. */
export function blankRecord(id: number, overrides: Record<string, unknown> = {}): ModelRecord {
  return ModelRecord.parse({
    id,
    name: `model ${id}`,
    type: 'LORA',
    url: `https://civitai.com/models/${id}`,
    creator: null,
    nsfw: false,
    nsfwLevel: null,
    tags: [],
    stats: {
      downloadCount: 0,
      favoriteCount: 0,
      thumbsUpCount: 0,
      thumbsDownCount: 0,
      commentCount: 0,
      ratingCount: 0,
      rating: 0,
    },
    publishedAt: null,
    updatedAt: null,
    descriptionText: '',
    descriptionMarkdown: '',
    versions: [],
    targetVersionId: null,
    comments: { status: 'skipped', reason: null, items: [] },
    fingerprint: 'f',
    fetchedAt: '2026-03-01T00:00:00.000Z',
    ...overrides,
  });
}

/** A version with no files, images or changelog (id, name v1), plus any overrides; for `blankRecord`'s `versions`. */
export function blankVersion(id: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    name: 'v1',
    baseModel: null,
    createdAt: null,
    publishedAt: null,
    updatedAt: null,
    trainedWords: [],
    triggerWords: [],
    changelogText: '',
    changelogMarkdown: '',
    downloadUrl: null,
    files: [],
    images: [],
    imagesSource: 'none',
    training: null,
    ...overrides,
  };
}
