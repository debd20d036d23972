/**
 * Batches DescribeInstances across nodes: every lookup asked for within `windowMs` goes into
 * one call (AWS throttles per call, not per instance).
 */
import type { Ec2Api, Ec2Instance } from "./sdk.ts";
import { isInstanceNotFound, withRetry } from "./errors.ts";

/** Most instance ids one DescribeInstances call takes here. */
const MAX_IDS = 200;

/** Looks instances up in batches. */
export class DescribeBatcher {
  #waiting = new Map<string, ((i: Ec2Instance | undefined) => void)[]>();
  #failing = new Map<string, (e: unknown) => void>();
  #timer?: ReturnType<typeof setTimeout>;

  constructor(private readonly ec2: Ec2Api, private readonly windowMs = 100) {}

  /** The instance, or undefined when EC2 does not know it (yet). */
  get(id: string): Promise<Ec2Instance | undefined> {
    return new Promise((resolve, reject) => {
      const list = this.#waiting.get(id) ?? [];
      list.push(resolve);
      this.#waiting.set(id, list);
      this.#failing.set(id, reject);
      this.#timer ??= setTimeout(() => void this.#flush(), this.windowMs);
    });
  }

  async #flush(): Promise<void> {
    this.#timer = undefined;
    const batch = new Map(this.#waiting);
    const fail = new Map(this.#failing);
    this.#waiting.clear();
    this.#failing.clear();
    const ids = [...batch.keys()];
    for (let i = 0; i < ids.length; i += MAX_IDS) {
      const chunk = ids.slice(i, i + MAX_IDS);
      try {
        const found = await withRetry(() => this.ec2.describeInstances({ InstanceIds: chunk }))
          .catch((e) => {
            if (isInstanceNotFound(e)) return this.#oneByOne(chunk);
            throw e;
          });
        for (const id of chunk) {
          const inst = found.find((x) => x.InstanceId === id);
          for (const r of batch.get(id) ?? []) r(inst);
        }
      } catch (e) {
        for (const id of chunk) fail.get(id)?.(e);
      }
    }
  }

  /** One unknown id fails the whole call: look the others up one by one. */
  async #oneByOne(ids: string[]): Promise<Ec2Instance[]> {
    const out: Ec2Instance[] = [];
    for (const id of ids) {
      try {
        out.push(...await withRetry(() => this.ec2.describeInstances({ InstanceIds: [id] })));
      } catch (e) {
        if (!isInstanceNotFound(e)) throw e;
      }
    }
    return out;
  }
}
