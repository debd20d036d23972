/** The AGE column: a short, truncated duration like kubectl's (reference §9). */

/** Formats a duration in milliseconds: `<n>s`, `<n>m`, `<n>h`, `<n>d`, `<n>y` or `<invalid>`. */
export function shortHumanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  // Up to 2 s of clock skew counts as "now"; more is a clock problem.
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 24) return `${hours}h`;
  if (hours < 24 * 364) return `${Math.trunc(hours / 24)}d`;
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** The age of an RFC 3339 timestamp at `now`; `<unknown>` when absent or unparseable. */
export function age(timestamp: string | undefined, now: number): string {
  if (!timestamp) return "<unknown>";
  const t = Date.parse(timestamp);
  if (Number.isNaN(t) || t <= 0) return "<unknown>";
  return shortHumanDuration(now - t);
}
