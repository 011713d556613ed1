/** One section of `npm run bench`: rows are printed as a table and saved in bench-results/*.json. */
export interface BenchSection {
  name: string;
  rows: Array<Record<string, string | number | boolean | null>>;
  notes: string[];
}
