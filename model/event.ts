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
}

/** How long events are kept, in milliseconds. */
export const EVENT_TTL_MS = 60 * 60 * 1000;
