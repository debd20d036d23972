/**
 * Batches DescribeInstances across nodes: every lookup asked for within `windowMs` goes into
 * one call (AWS throttles per call, not per instance).
 */
import { NotFoundError } from "../../model/errors.ts";
import type { Caller } from "./errors.ts";
import type { Ec2Api, Ec2Instance } from "./sdk.ts";

/** Most instance ids one DescribeInstances call takes here. */
const MAX_IDS = 200;

/** Looks instances up in batches. */
export class DescribeBatcher {
  #waiting = new Map<string, ((i: Ec2Instance | undefined) => void)[]>();
  #failing = new Map<string, (e: unknown) => void>();
  #timer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly ec2: Pick<Ec2Api, "describeInstances">,
    private readonly call: Caller,
    private readonly windowMs = 100,
  ) {}

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
        const found = await this.#describe(chunk).catch((e) => {
          if (e instanceof NotFoundError) return this.#oneByOne(chunk);
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
        out.push(...await this.#describe([id]));
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
      }
    }
    return out;
  }

  #describe(ids: string[]): Promise<Ec2Instance[]> {
    return this.call(
      ids.length === 1 ? `describe instance ${ids[0]}` : `describe ${ids.length} instances`,
      () => this.ec2.describeInstances({ InstanceIds: ids }),
    );
  }
}
