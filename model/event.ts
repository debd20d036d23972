/** The Event kind: what happened to an object, kept for an hour. */
import type { MilpaObject, ObjectMeta } from "./meta.ts";

/** The object an event is about. */
export interface InvolvedObject {
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

/** An event. `status` is a short topic such as `pod-running`; `source` the component. */
export interface Event extends MilpaObject {
  kind: "Event";
  metadata: ObjectMeta;
  involvedObject: InvolvedObject;
  status: string;
  source: string;
  message: string;
  /** Normal or Warning. */
  type?: "Normal" | "Warning";
  /**
   * How many times this happened: repeats of an event, and similar events combined into one
   * (store/events.ts), count into the first. Absent: once.
   */
  count?: number;
  /** When it last happened; absent: at `metadata.creationTimestamp` (when it first happened). */
  lastTimestamp?: string;
}

/** When an event last happened, as stored (ISO 8601): its lastTimestamp, else its creation. */
export function lastTimestampOf(e: Event): string | undefined {
  return e.lastTimestamp ?? e.metadata?.creationTimestamp;
}

/** When an event last happened (epoch ms); one without a time counts as at the epoch. */
export function lastSeen(e: Event): number {
  const at = Date.parse(lastTimestampOf(e) ?? "");
  return Number.isNaN(at) ? 0 : at;
}

/** How long events are kept, in milliseconds. */
export const EVENT_TTL_MS = 60 * 60 * 1000;
