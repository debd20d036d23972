/**
 * Test support shared by the fakes of `sdk.ts`'s APIs: a recorder of calls that fails on demand,
 * and errors shaped like the SDK's.
 */

/** An error shaped like an SDK service exception with AWS error code `code`. */
export function awsError(code: string, message = code, status = 400): Error {
  return Object.assign(new Error(message), {
    name: code,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status },
  });
}

/** Calls recorded by a fake, and errors it will throw next. */
export class Recorder {
  /** Every call: method name and arguments. */
  readonly calls: { name: string; args: unknown[] }[] = [];
  #failures = new Map<string, Error[]>();

  /** The next `times` calls of `method` throw `error`. */
  failNext(method: string, error: Error, times = 1): void {
    const list = this.#failures.get(method) ?? [];
    for (let i = 0; i < times; i++) list.push(error);
    this.#failures.set(method, list);
  }

  /** Records a call, throwing a scripted failure if there is one. */
  record(name: string, ...args: unknown[]): void {
    this.calls.push({ name, args: structuredClone(args) });
    const err = this.#failures.get(name)?.shift();
    if (err) throw err;
  }

  /** Records a call and runs `fn`, its throw a rejection (as an SDK call fails). */
  protected run<T>(name: string, args: unknown[], fn: () => T): Promise<T> {
    try {
      this.record(name, ...args);
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Names of the calls that change something (not describe/list/get/userData). */
  writes(): string[] {
    return this.calls.map((c) => c.name).filter((n) => !/^(describe|list|get|userData)/.test(n));
  }

  /** Forgets calls and failures. */
  reset(): void {
    this.calls.length = 0;
    this.#failures.clear();
  }
}
