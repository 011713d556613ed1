import { availableParallelism, loadavg } from 'node:os';

/**
 * "1-min load 0.4 on 2 core(s)": the machine's load when a section starts or ends, flagged LOADED when
 * it exceeds the cores (then timings and ratios are not idle-machine figures).
 */
export function loadNote(): string {
  const [one] = loadavg();
  const cores = availableParallelism();
  return `1-min load ${one!.toFixed(1)} on ${cores} core(s)${one! > cores ? ' — LOADED: timings are not idle-machine figures' : ''}`;
}
