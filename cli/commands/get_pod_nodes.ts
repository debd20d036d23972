/** The nodes that `get pods -o wide` reads for its INSTANCE-TYPE and PRICE/HR columns. */
import { findKind } from "../../model/kinds.ts";
import type { MilpaObject } from "../../model/meta.ts";
import type { Node } from "../../model/node.ts";
import type { Pod } from "../../model/pod.ts";
import type { MilpaClient } from "../client.ts";
import { ApiError } from "../errors.ts";

const NODE = findKind("node")!;

/**
 * The nodes pods run on, read once as a list, then (for a watch) each new one by name. A token
 * that may not read nodes (a namespace token gets 403) leaves them unknown, not an error.
 */
export class PodNodes {
  #byName = new Map<string, Node>();
  #missing = new Set<string>();
  #readable = true;

  constructor(private readonly client: MilpaClient) {}

  /** The nodes by name, or undefined when this token may not read nodes. */
  get nodes(): ReadonlyMap<string, Node> | undefined {
    return this.#readable ? this.#byName : undefined;
  }

  /** Reads every node. */
  async readAll(): Promise<void> {
    await this.#unlessForbidden(async () => {
      const list = await this.client.list(NODE, {});
      for (const node of list.items as Node[]) this.#byName.set(node.metadata.name, node);
    });
  }

  /** Reads the node of each pod that names one not read yet (asking once per name). */
  async readNodesOf(pods: MilpaObject[]): Promise<void> {
    for (const pod of pods as Pod[]) {
      const name = pod.status?.boundNodeName;
      if (!this.#readable || !name || this.#byName.has(name) || this.#missing.has(name)) continue;
      await this.#unlessForbidden(async () => {
        try {
          this.#byName.set(name, await this.client.get(NODE, undefined, name) as Node);
        } catch (err) {
          if (!(err instanceof ApiError && err.code === 404)) throw err;
          this.#missing.add(name);
        }
      });
    }
  }

  async #unlessForbidden(read: () => Promise<void>): Promise<void> {
    try {
      await read();
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 403)) throw err;
      this.#readable = false;
    }
  }
}
