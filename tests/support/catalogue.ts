/**
 * In-memory Civitai data a replay server serves. Bodies are shaped exactly like Civitai's
 * (absolute https://civitai.com / https://image.civitai.com URLs; the server rewrites them).
 */
export type Json = Record<string, unknown>;

export interface Catalogue {
  /** `/api/v1/models/:id` bodies, in the order of the "Most Downloaded" listing. */
  models: Json[];
  /** `/api/v1/images` items (with full `meta`) per model version id. */
  versionImages: Map<number, Json[]>;
  /** tRPC `comment.getAll` comments per model id. */
  comments: Map<number, Json[]>;
  /** tRPC `resourceReview.getInfinite` items per model id. */
  reviews: Map<number, Json[]>;
  /** tRPC `commentv2.getInfinite` comments per review id. */
  reviewThreads: Map<number, Json[]>;
  /** safetensors `__metadata__` per model version id (versions absent here get an empty header). */
  headers: Map<number, Record<string, string>>;
  /** Colour of the generated PNG per image id (deterministic otherwise). */
  imageColours?: Map<number, [number, number, number]>;
}

export function emptyCatalogue(): Catalogue {
  return {
    models: [],
    versionImages: new Map(),
    comments: new Map(),
    reviews: new Map(),
    reviewThreads: new Map(),
    headers: new Map(),
  };
}

export function versionsOf(model: Json): Json[] {
  return (model.modelVersions as Json[] | undefined) ?? [];
}
