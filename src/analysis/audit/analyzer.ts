import type { ModelRecord } from '../civitai/record.ts';
import type { ImageFeatureExtractor, ImagePassResult } from '../images/features.ts';
import type { Cell, CsvRow } from './metrics-csv.ts';
import type { FlaggedImage } from './service.ts';
import type { AuditHooks, AuditRunOptions, Finding } from './types.ts';

/** What one analysis concluded about one model. */
export interface ModelAnalysis {
  /** true = flagged, false = measured and clean, null = could not be measured (never silently "clean"). */
  flagged: boolean | null;
  /** When `flagged` is null: why nothing could be measured, in a few words (e.g. "no text to scan"). */
  unmeasured?: string;
  findings: Finding[];
  /** Columns this analysis adds to the model's metrics.csv row. */
  metrics: Record<string, Cell>;
  /** Detail kept in audit.json under `analyses.<name>`. */
  evidence: unknown;
  /** One short clause for the verdict line (e.g. who reported, which versions were fixed). */
  note?: string;
  /**
   * A measurement that detects no tag errors (the bias metrics): it never makes a verdict flagged
   * or clean, only adds its note (or, unmeasured, its reason) to the verdict line.
   */
  informational?: true;
}

export interface AnalyzerOutput {
  perModel: Map<number, ModelAnalysis>;
  /** Extra metrics.csv rows (e.g. row_type=image). */
  rows: CsvRow[];
  notes: string[];
  flaggedImages: FlaggedImage[];
  /** Set-level results (e.g. significance across models), kept in audit.json under `summaries.<name>`. */
  summary?: unknown;
}

/** What an analyzer gets besides the records: the shared image pass and the analyses run before it. */
export interface AnalysisContext {
  /**
   * The one image pass of this audit (every image downloaded and decoded once, all declared extractors
   * run on it). Absent when no analyzer declared extractors or the run has no images.
   * Contract: when the CLIP model files are available, `features.clip` of an ok record is the image's
   * L2-normalised CLIP embedding (number[]), for audited and reference images alike.
   */
  images?: ImagePassResult;
  /** Outputs of the analyzers that ran earlier in this audit, by analyzer name (in column order). */
  previous: ReadonlyMap<string, AnalyzerOutput>;
}

/**
 * One analysis over the whole audited set (set-level so calibrations such as CLIP's shuffled-prompt
 * null can draw on other models). Analyzers are pure: data in, data out.
 */
export interface Analyzer {
  readonly name: string;
  /** metrics.csv columns it owns, in order (present on every model row, empty when unmeasured). */
  readonly columns: readonly string[];
  /** Per-image extractors this analysis needs; the service runs them all in the one image pass. */
  readonly imageExtractors?: readonly ImageFeatureExtractor[];
  analyze(
    records: readonly ModelRecord[],
    hooks: AuditHooks,
    options: AuditRunOptions,
    context?: AnalysisContext,
  ): Promise<AnalyzerOutput>;
  /** Release native resources (ONNX sessions); called when the service closes. */
  close?(): Promise<void>;
}

export function emptyOutput(): AnalyzerOutput {
  return { perModel: new Map(), rows: [], notes: [], flaggedImages: [] };
}

/** Let queued I/O and timers run (one macrotask turn) before the next synchronous stretch. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
