/** Recording events and dropping expired events and finished pods. */
import type { Clock } from "../model/clock.ts";
import { isoTime } from "../model/clock.ts";
import type { Event, InvolvedObject } from "../model/event.ts";
import { EVENT_TTL_MS } from "../model/event.ts";
import { API_VERSION } from "../model/meta.ts";
import type { Pod } from "../model/pod.ts";
import { isTerminalPodPhase } from "../model/pod.ts";
import type { ObjectStore } from "./object_store.ts";

/** How long a finished pod stays visible, in milliseconds. */
export const FINISHED_POD_TTL_MS = 3 * 60 * 1000;

/** Most events `get events` returns. */
export const MAX_EVENTS = 4000;

/** What an event says. */
export interface EventInput {
  involvedObject: InvolvedObject;
  /** A topic such as `pod-running`. */
  status: string;
  /** The component: `pod-controller`, `node-controller`, ... */
  source: string;
  message: string;
  type?: "Normal" | "Warning";
}

/** Stores an event about an object. Failures are logged, never thrown. */
export async function recordEvent(
  store: ObjectStore,
  clock: Clock,
  input: EventInput,
): Promise<void> {
  const now = clock.now();
  const event: Event = {
    kind: "Event",
    apiVersion: API_VERSION,
    metadata: {
      name: `${input.involvedObject.name}.${now.toString(16)}${crypto.randomUUID().slice(0, 8)}`,
      namespace: input.involvedObject.namespace ?? "default",
      creationTimestamp: isoTime(now),
    },
    involvedObject: input.involvedObject,
    status: input.status,
    source: input.source,
    message: input.message,
    type: input.type ?? "Normal",
  };
  try {
    await store.create(event);
  } catch (e) {
    console.error("could not record event:", e);
  }
}

/**
 * Deletes events older than an hour (and the oldest beyond MAX_EVENTS), and pods whose
 * status reached a terminal phase more than 3 minutes ago.
 */
export async function purgeExpired(store: ObjectStore, clock: Clock): Promise<number> {
  const now = clock.now();
  let purged = 0;
  const events = await store.list<Event>("events");
  events.sort((a, b) => a.metadata.creationTimestamp!.localeCompare(b.metadata.creationTimestamp!));
  const excess = Math.max(0, events.length - MAX_EVENTS);
  for (const [i, e] of events.entries()) {
    if (i < excess || now - Date.parse(e.metadata.creationTimestamp!) > EVENT_TTL_MS) {
      purged += await tryDelete(store, e);
    }
  }
  for (const pod of await store.list<Pod>("pods")) {
    const finished = pod.status?.lastPhaseChange;
    if (
      finished && isTerminalPodPhase(pod.status?.phase) &&
      now - Date.parse(finished) > FINISHED_POD_TTL_MS
    ) {
      purged += await tryDelete(store, pod);
    }
  }
  return purged;
}

async function tryDelete(store: ObjectStore, obj: Event | Pod): Promise<number> {
  try {
    await store.delete(
      obj.kind,
      obj.metadata.namespace,
      obj.metadata.name,
      obj.metadata.resourceVersion,
    );
    return 1;
  } catch {
    return 0; // changed or gone meanwhile: the next pass decides again
  }
}
