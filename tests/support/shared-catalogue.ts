import { readFileSync } from 'node:fs';
import { type Catalogue, emptyCatalogue, type Json, versionsOf } from './catalogue.ts';
import { sharedPath } from './requirements.ts';

export { SHARED_DIR } from './requirements.ts';

/** A JSON file under ../shared; a MissingRequirementError naming the folder when it is absent. */
export function readShared<T = Json>(relative: string): T {
  return JSON.parse(readFileSync(sharedPath(relative), 'utf8')) as T;
}

/** The real kohya `__metadata__` map of a LoRA (Soraka, ../shared/fixtures/safetensors). */
export function sorakaMetadata(): Record<string, string> {
  return readShared<Record<string, string>>('fixtures/safetensors/soraka-classic-kohya-lora-metadata.json');
}

const TYPES = ['LORA', 'LORA', 'LoCon', 'DoRA', 'LORA', 'Checkpoint', 'LORA', 'LoCon'] as const;

function clone<T>(v: T): T {
  return structuredClone(v);
}

/**
 * A catalogue built from the real recorded responses in ../shared/fixtures/civitai, expanded with
 * `extra` synthetic models (clones of the real ones with new ids, types and dates spread over
 * 2022-06..2026-05) so paging to N=250, type filtering and the date window can be exercised.
 * Listing order is by downloadCount, descending.
 */
export function sharedCatalogue(extra = 320): Catalogue {
  const cat = emptyCatalogue();
  const m11821 = readShared('fixtures/civitai/model-11821-lora.json');
  const m1580878 = readShared('fixtures/civitai/model-1580878-lora-illustrious.json');
  const checkpoints = readShared<{ items: Json[] }>(
    'fixtures/civitai/models-checkpoint-limit3-cursor.json',
  ).items;
  const v1448477 = readShared('fixtures/civitai/model-version-1448477-lora-illustrious.json');
  const realImages: Json[] = (v1448477.images as Json[]).map((im, i) => ({ ...im, id: 59458964 + i }));

  // Model 101892 exists in the fixtures only as its version 1448477: wrap it as a model.
  const m101892: Json = {
    id: 101892,
    name: (v1448477.model as Json).name,
    description: '<p>Retro cartoon style. Trigger: <strong>RetroXL</strong></p>',
    type: 'LORA',
    nsfw: false,
    nsfwLevel: 3,
    creator: { username: 'YeiyeiArt' },
    tags: ['style', 'cartoon'],
    stats: { downloadCount: 90000, thumbsUpCount: 4000, commentCount: 3, ratingCount: 0, rating: 0 },
    modelVersions: [
      {
        id: v1448477.id,
        name: v1448477.name,
        baseModel: v1448477.baseModel,
        createdAt: v1448477.createdAt,
        updatedAt: v1448477.updatedAt,
        publishedAt: v1448477.publishedAt,
        description: v1448477.description,
        trainedWords: v1448477.trainedWords,
        files: v1448477.files,
        images: (v1448477.images as Json[]).map(({ meta: _m, ...rest }) => rest),
        downloadUrl: v1448477.downloadUrl,
      },
    ],
  };
  (m11821.stats as Json).downloadCount = 120000;
  (m1580878.stats as Json).downloadCount = 100000;
  const base = [
    m11821,
    m1580878,
    m101892,
    ...checkpoints.map((c) => ({ ...c, stats: { ...(c.stats as Json), downloadCount: 95000 } })),
  ];
  const models: Json[] = [...base];

  const start = Date.UTC(2022, 5, 1);
  const end = Date.UTC(2026, 4, 1);
  for (let i = 0; i < extra; i++) {
    const source = clone(i % 2 === 0 ? m11821 : m1580878);
    const id = 500000 + i;
    source.id = id;
    source.name = `${source.name as string} (replay ${i})`;
    source.type = TYPES[i % TYPES.length];
    (source.stats as Json).downloadCount = 80000 - i * 200;
    const published = new Date(start + ((end - start) * ((i * 37) % extra)) / extra);
    source.modelVersions = versionsOf(source).map((v, j) => {
      const date = new Date(published.getTime() - j * 86_400_000 * 20).toISOString();
      return {
        ...v,
        id: 7_000_000 + i * 10 + j,
        publishedAt: date,
        createdAt: date,
        files: ((v.files as Json[]) ?? []).map((f) => ({
          ...f,
          id: 8_000_000 + i * 10 + j,
          downloadUrl: `https://civitai.com/api/download/models/${7_000_000 + i * 10 + j}`,
          hashes: {
            ...(f.hashes as Json),
            SHA256: `${(7_000_000 + i * 10 + j).toString(16).toUpperCase().padStart(8, '0')}${'AB'.repeat(28)}`,
          },
        })),
      };
    });
    models.push(source);
  }
  models.sort((a, b) => Number((b.stats as Json).downloadCount) - Number((a.stats as Json).downloadCount));
  cat.models = models;

  const soraka = sorakaMetadata();
  for (const model of models) {
    for (const [j, v] of versionsOf(model).entries()) {
      const vid = v.id as number;
      const images = realImages.map((im, k) => ({
        ...im,
        id: vid * 100 + k,
        url: `https://image.civitai.com/xG1nkqKTMzGDvpLrqFT7WA/replay-${vid}-${k}/width=1024/${vid * 100 + k}${im.type === 'video' ? '.mp4' : '.jpeg'}`,
        baseModel: v.baseModel,
        nsfwLevel: ['None', 'Soft', 'Mature', 'X'][Math.log2(Number(im.nsfwLevel))] ?? 'None',
        meta: im.meta,
      }));
      cat.versionImages.set(vid, images);
      // Newest version of every model carries the real kohya header; older ones none (trainer wrote none).
      if (j === 0) cat.headers.set(vid, soraka);
    }
  }
  addDiscussion(cat);
  return cat;
}

/** Comments, reviews and a review thread written for these tests (Civitai's shapes, our words). */
function addDiscussion(cat: Catalogue): void {
  const user = (id: number, username: string) => ({
    id,
    username,
    image: null,
    deletedAt: null,
    cosmetics: [],
  });
  cat.comments.set(
    11821,
    Array.from({ length: 130 }, (_, i) => ({
      id: 900_000 - i,
      createdAt: new Date(Date.UTC(2024, 0, 1) - i * 3_600_000).toISOString(),
      nsfw: false,
      content:
        i === 3
          ? '<p>The trigger word is wrong: the images were tagged as <b>vsk94</b> but the page says VSKnormal.</p>'
          : i === 7
            ? '<p>タグが間違っています、VSKDressで服が出ない</p>'
            : `<p>Nice LoRA, thanks! (#${i})</p>`,
      modelId: 11821,
      parentId: null,
      locked: false,
      tosViolation: false,
      hidden: i === 5,
      pinnedAt: null,
      user: user(100 + i, `user${i}`),
      reactions: [],
      model: { name: "VSK-94 | Girls' Frontline" },
      _count: { comments: 0 },
    })),
  );
  cat.reviews.set(1580878, [
    {
      id: 7001,
      modelId: 1580878,
      modelVersionId: 1967584,
      details: '<p>Works well, but the <i>semi-realistic</i> tag seems mislabeled in the training set.</p>',
      createdAt: '2025-07-10T10:00:00.000Z',
      rating: 4,
      recommended: true,
      thread: { commentCount: 2 },
      user: user(501, 'reviewer1'),
    },
    {
      id: 7002,
      modelId: 1580878,
      modelVersionId: 1788945,
      details: '<p>很好用，标签没有错。</p>',
      createdAt: '2025-06-01T10:00:00.000Z',
      rating: 5,
      recommended: true,
      thread: { commentCount: 0 },
      user: user(502, 'reviewer2'),
    },
  ]);
  cat.reviewThreads.set(7001, [
    {
      id: 8001,
      createdAt: '2025-07-11T10:00:00.000Z',
      nsfw: false,
      content: '<p>Same here, shiny skin is tagged on every image.</p>',
      hidden: false,
      user: user(601, 'replier'),
      reactions: [],
    },
    {
      id: 8002,
      createdAt: '2025-07-12T10:00:00.000Z',
      nsfw: false,
      content: '<p>Agreed.</p>',
      hidden: false,
      user: user(602, 'replier2'),
      reactions: [],
    },
  ]);
}
