/**
 * Terminates cloud instances tagged with this controller's id that no node knows: a crash
 * between a launch and its record, or state that was lost. An instance is terminated only
 * when two consecutive passes found it unknown, so a node that is being created (its object
 * is written before its launch) is never mistaken for one. Instances without our tag are
 * never listed, so never touched.
 */
import type { CloudProvider } from "../cloud/provider.ts";
import type { Node } from "../model/node.ts";
import type { EventInput } from "../store/events.ts";
import type { ObjectStore } from "../store/object_store.ts";

/** Finds and ends orphaned instances, two passes apart. */
export class InstanceCollector {
  #suspects = new Set<string>();

  constructor(
    private readonly deps: {
      store: ObjectStore;
      cloud: Pick<CloudProvider, "listInstances" | "terminate">;
      event: (e: EventInput) => void;
    },
  ) {}

  /** One pass; resolves the ids it terminated. */
  async pass(): Promise<string[]> {
    const instances = await this.deps.cloud.listInstances();
    const nodes = await this.deps.store.list<Node>("nodes");
    const names = new Set(nodes.map((n) => n.metadata.name));
    const ids = new Set(nodes.map((n) => n.status?.instanceID).filter(Boolean));
    const unknown = instances.filter((i) => !ids.has(i.id) && !names.has(i.nodeName));
    const doomed = unknown.filter((i) => this.#suspects.has(i.id));
    for (const i of doomed) {
      await this.deps.cloud.terminate(i.id);
      this.deps.event({
        involvedObject: { kind: "Node", name: i.nodeName || i.id },
        status: "instance-collected",
        source: "garbage-collector",
        message:
          `Terminated instance ${i.id} (${i.instanceType}): tagged with this controller, but no node knows it`,
        type: "Warning",
      });
    }
    const gone = new Set(doomed.map((i) => i.id));
    this.#suspects = new Set(unknown.map((i) => i.id).filter((id) => !gone.has(id)));
    return [...gone];
  }
}
