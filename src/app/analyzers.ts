import type { Analyzer } from '../analysis/audit/analyzer.ts';
import type { Logger } from '../analysis/ports.ts';
import type { AppConfig } from '../config.ts';

export interface AnalyzerDeps {
  config: AppConfig;
  logger: Logger;
}

/** The analyses an audit runs, in metrics.csv column order. */
export function defaultAnalyzers(_deps: AnalyzerDeps): Analyzer[] {
  return [];
}
