/**
 * The in-process simulated cloud: no processes, no network. Instances appear after a
 * scriptable latency; launches fail on demand; every call is recorded. The node's agent is
 * started through an injected hook, so tests and benchmarks can run the real agent logic
 * on a fake unit runtime (see `agent/in_process.ts`), and the user-facing simulated cloud
 * (`cloud: {sim: {}}`) a light simulated agent (`agent/sim_agent.ts`).
 *
 * Two ways to hold instances:
 * - in the object only (`new SimProvider()`, for tests): "the same state" is the same object;
 *   every call is recorded in `calls` and terminated instances stay in `instances`.
 * - in KV too (`SimProvider.open({ store })`, the user-facing sim): live instances are kept in
 *   `store/sim_instances.ts` and a provider opened later over the same KV lists them, finds
 *   them by client token and starts their agents again (`startAgents()`); `record: false`
 *   keeps memory bounded (no call log, terminated instances forgotten).
 */
import { CapacityError, UnavailableError } from "../../model/errors.ts";
import type { SimInstanceRecord, SimInstanceStore } from "../../store/sim_instances.ts";
import type {
  CloudProvider,
  IngressRule,
  Instance,
  InstanceExit,
  LaunchRequest,
  LoadBalancerSpec,
  LoadBalancerState,
  ServiceDnsPort,
} from "../provider.ts";
import { log } from "../../model/log.ts";
import { nextTurn } from "../../model/turn.ts";

/** Held agents started per turn of the event loop by `startAgents()`. */
export const AGENT_START_SLICE = 100;

/** What the simulated cloud holds for one Service. */
export interface SimService {
  firewall?: { rules: IngressRule[]; instances: string[] };
  dns?: { ports: ServiceDnsPort[]; endpoints: { pod: string; address: string }[] };
  loadBalancer?: {
    spec: LoadBalancerSpec;
    backends: { id: string; address: string }[];
    address: string;
  };
}

/** A recorded provider call. */
export interface SimCall {
  method:
    | "launch"
    | "terminate"
    | "listInstances"
    | "syncFirewall"
    | "syncDns"
    | "syncLoadBalancer"
    | "removeLoadBalancer"
    | "deleteService";
  arg?: unknown;
}

/**
 * Starts an instance's agent; the returned function stops it (on terminate). `req` is absent
 * for an instance launched before a restart (the provider keeps no launch requests).
 */
export type StartAgent = (instance: Instance, req?: LaunchRequest) => (() => void) | void;

/** How the simulated cloud behaves. */
export interface SimOptions {
  /** Milliseconds a launch call takes before it returns. @default 0 */
  launchLatencyMs?: number;
  /**
   * Milliseconds from the launch's return until the instance is running and its agent starts
   * (the instance is `pending` until then). @default 0: at once
   */
  bootDelayMs?: number;
  /** Up to this many more milliseconds of boot, at random, per launch. @default 0 */
  bootJitterMs?: number;
  /** Starts the instance's agent; the returned function stops it (on terminate). */
  startAgent?: StartAgent;
  /** Return an error to make a launch fail. */
  failLaunch?: (req: LaunchRequest) => Error | undefined;
  /**
   * Record every call in `calls` and keep terminated instances in `instances` (and their
   * client tokens), for tests' assertions. Off, memory stays bounded by the live instances.
   * @default true
   */
  record?: boolean;
  /** Keeps live instances in KV (see the module doc); given by `SimProvider.open`. */
  store?: SimInstanceStore;
}

/**
 * A `failLaunch` that fails a share `rate` (0..1) of launches at random, as a cloud would: with
 * `kind` "capacity" a CapacityError (no capacity for the type now), else an UnavailableError
 * (an internal error of the cloud).
 */
export function randomLaunchFailures(
  rate: number,
  kind: "error" | "capacity",
  random: () => number = Math.random,
): ((req: LaunchRequest) => Error | undefined) | undefined {
  if (!(rate > 0)) return undefined;
  return (req) => {
    if (random() >= rate) return undefined;
    return kind === "capacity"
      ? new CapacityError(
        `InsufficientInstanceCapacity: there is not enough ${req.instanceType} capacity ` +
          `right now (simulated: cloud.sim.launchFailureRate ${rate})`,
      )
      : new UnavailableError(
        `InternalError: the cloud could not launch the instance ` +
          `(simulated: cloud.sim.launchFailureRate ${rate})`,
      );
  };
}

function simInstanceId(n: number): string {
  return `i-sim${n.toString(16).padStart(13, "0")}`;
}

function simAddress(n: number): string {
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/** A simulated cloud provider. */
export class SimProvider implements CloudProvider {
  readonly name = "sim";
  readonly calls: SimCall[] = [];
  readonly instances = new Map<string, Instance>();
  /** What each service has in the simulated cloud, by `<namespace>/<name>`. */
  readonly services = new Map<string, SimService>();
  /** Backend ids the simulated load balancers hold out of service (failing their checks). */
  readonly outOfService = new Set<string>();
  #exitListeners = new Set<(e: InstanceExit) => void>();
  #nextLb = 1;
  #byToken = new Map<string, Promise<Instance>>();
  /** Client tokens of the instances, to forget them with the instance when not recording. */
  #tokens = new Map<string, string>();
  #stops = new Map<string, () => void>();
  /** Instances booting: their boot timers. */
  #booting = new Map<string, ReturnType<typeof setTimeout>>();
  /** Agents to start once `startAgents()` is called (held while the controller starts). */
  #held?: Set<string>;
  #next = 1;
  /** Closed: held agents not started yet stay stopped. */
  #closed = false;

  constructor(private options: SimOptions = {}) {}

  /**
   * A simulated cloud whose instances live in `store` (KV) too: the instances a provider over
   * the same store made before (an earlier controller's) are running, and their agents start
   * on `startAgents()`; so do those of instances booted before that call.
   */
  static async open(options: SimOptions & { store: SimInstanceStore }): Promise<SimProvider> {
    const sim = new SimProvider(options);
    sim.#held = new Set();
    const { instances, next } = await options.store.load();
    sim.#next = next;
    for (const r of instances) {
      const instance = sim.#fromRecord(r);
      sim.instances.set(instance.id, instance);
      sim.#tokens.set(instance.id, r.clientToken);
      sim.#byToken.set(r.clientToken, Promise.resolve(instance));
      sim.#held.add(instance.id);
    }
    return sim;
  }

  /** Changes behaviour from now on (latency, failures). */
  configure(options: Partial<SimOptions>): void {
    this.options = { ...this.options, ...options };
  }

  /**
   * Starts the agents held since `open()`: of the instances that were running before, and of
   * those booted since. From now on agents start as soon as their instance has booted.
   *
   * Held agents start AGENT_START_SLICE at a time, one slice per turn of the event loop, the
   * first at once: agents reconnecting over a network arrive as separate events too. All
   * 10,000 of a restarted controller in one turn held its event loop ~2 s, the API included.
   * Resolves once every held agent started (or the provider closed).
   */
  async startAgents(): Promise<void> {
    const held = [...this.#held ?? []];
    this.#held = undefined;
    for (let i = 0; i < held.length; i++) {
      if (i > 0 && i % AGENT_START_SLICE === 0) {
        await nextTurn();
        if (this.#closed) return;
      }
      const inst = this.instances.get(held[i]);
      if (inst?.state === "running" && !this.#stops.has(inst.id)) this.#startAgent(inst);
    }
  }

  #record(call: SimCall): void {
    if (this.options.record !== false) this.calls.push(call);
  }

  /** Boots a simulated instance; idempotent by client token, also for concurrent launches. */
  launch(req: LaunchRequest): Promise<Instance> {
    this.#record({ method: "launch", arg: req });
    const pending = this.#byToken.get(req.clientToken);
    if (pending) return pending;
    const launching = this.#launch(req);
    this.#byToken.set(req.clientToken, launching);
    // A failed launch may be tried again with the same token.
    launching.catch(() => this.#byToken.delete(req.clientToken));
    return launching;
  }

  async #launch(req: LaunchRequest): Promise<Instance> {
    const err = this.options.failLaunch?.(req);
    if (err) throw err;
    if (this.options.launchLatencyMs) {
      await new Promise((r) => setTimeout(r, this.options.launchLatencyMs));
    }
    const n = this.#next++;
    const record: SimInstanceRecord = {
      id: simInstanceId(n),
      n,
      nodeName: req.nodeName,
      instanceType: req.instanceType,
      spot: req.spot,
      address: simAddress(n),
      launchedAt: Date.now(),
      clientToken: req.clientToken,
    };
    const boot = (this.options.bootDelayMs ?? 0) +
      Math.floor(Math.random() * (this.options.bootJitterMs ?? 0));
    const instance = this.#fromRecord(record, boot > 0 ? "pending" : "running");
    // It exists once the cloud has it on record: a controller that dies now finds it later.
    await this.options.store?.put(record);
    this.instances.set(instance.id, instance);
    this.#tokens.set(instance.id, req.clientToken);
    if (boot > 0) {
      this.#booting.set(
        instance.id,
        setTimeout(() => {
          this.#booting.delete(instance.id);
          if (instance.state !== "pending") return;
          instance.state = "running";
          this.#startAgent(instance, req);
        }, boot),
      );
    } else this.#startAgent(instance, req);
    return instance;
  }

  #fromRecord(r: SimInstanceRecord, state: Instance["state"] = "running"): Instance {
    return {
      id: r.id,
      nodeName: r.nodeName,
      instanceType: r.instanceType,
      state,
      spot: r.spot,
      addresses: [{ type: "PrivateIP", address: r.address }],
      launchedAt: r.launchedAt,
    };
  }

  #startAgent(instance: Instance, req?: LaunchRequest): void {
    if (this.#held) {
      this.#held.add(instance.id);
      return;
    }
    const stop = this.options.startAgent?.(instance, req);
    if (stop) this.#stops.set(instance.id, stop);
  }

  /** Ends an instance: stops its boot or its agent, and forgets it unless recording. */
  #end(inst: Instance): void {
    inst.state = "terminated";
    clearTimeout(this.#booting.get(inst.id));
    this.#booting.delete(inst.id);
    this.#held?.delete(inst.id);
    this.#stops.get(inst.id)?.();
    this.#stops.delete(inst.id);
    if (this.options.record === false) {
      this.instances.delete(inst.id);
      const token = this.#tokens.get(inst.id);
      if (token !== undefined) this.#byToken.delete(token);
    }
    this.#tokens.delete(inst.id);
  }

  /** Terminates a simulated instance and stops its agent; repeating is harmless. */
  async terminate(instanceId: string): Promise<void> {
    this.#record({ method: "terminate", arg: instanceId });
    const inst = this.instances.get(instanceId);
    if (inst && inst.state !== "terminated") this.#end(inst);
    // Also when it is gone from memory already: a repeat after a failed write writes again.
    await this.options.store?.remove(instanceId);
  }

  /** Tells `onInstanceExit` listeners about it. */
  onInstanceExit(listener: (e: InstanceExit) => void): () => void {
    this.#exitListeners.add(listener);
    return () => this.#exitListeners.delete(listener);
  }

  /** Makes an instance stop on its own (its agent dies), as a crash or a bad boot would. */
  exit(instanceId: string, reason: string): void {
    const inst = this.instances.get(instanceId);
    if (!inst || inst.state === "terminated") return;
    this.#end(inst);
    void this.options.store?.remove(instanceId).catch((e) =>
      log.warn(`sim cloud: cannot forget instance ${instanceId}`, { error: e })
    );
    for (const l of this.#exitListeners) l({ instanceId, nodeName: inst.nodeName, reason });
  }

  /** Instances not terminated. */
  listInstances(): Promise<Instance[]> {
    this.#record({ method: "listInstances" });
    const live: Instance[] = [];
    for (const i of this.instances.values()) if (i.state !== "terminated") live.push(i);
    return Promise.resolve(live);
  }

  #service(key: string): SimService {
    if (!this.services.has(key)) this.services.set(key, {});
    return this.services.get(key)!;
  }

  /**
   * Records the service's rules and the instances that carry them, in the order given (a copy:
   * sorting 10,000 ids at every pass of a Service took ~4 % of a rollout's main thread).
   */
  syncFirewall(service: string, rules: IngressRule[], instances: string[]): Promise<void> {
    this.#record({ method: "syncFirewall", arg: { service, rules, instances } });
    this.#service(service).firewall = { rules: [...rules], instances: [...instances] };
    return Promise.resolve();
  }

  /** Records the service's DNS ports and endpoints. */
  syncDns(
    service: string,
    ports: ServiceDnsPort[],
    endpoints: { pod: string; address: string }[],
  ): Promise<void> {
    this.#record({ method: "syncDns", arg: { service, ports, endpoints } });
    this.#service(service).dns = { ports: [...ports], endpoints: [...endpoints] };
    return Promise.resolve();
  }

  /** Records the load balancer and gives it a simulated address. */
  syncLoadBalancer(
    service: string,
    spec: LoadBalancerSpec,
    backends: { id: string; address: string }[],
  ): Promise<LoadBalancerState> {
    this.#record({ method: "syncLoadBalancer", arg: { service, spec, backends } });
    const s = this.#service(service);
    const address = s.loadBalancer?.address ?? `10.255.0.${this.#nextLb++}`;
    s.loadBalancer = { spec, backends: [...backends], address };
    // Simulated balancers admit every backend at once, unless a test holds some out.
    return Promise.resolve({
      ingress: [{ ip: address }],
      backendSource: "10.255.0.0/24",
      inService: backends.map((b) => b.id).filter((id) => !this.outOfService.has(id)),
    });
  }

  /** Forgets the service's load balancer. */
  removeLoadBalancer(service: string): Promise<void> {
    this.#record({ method: "removeLoadBalancer", arg: service });
    const s = this.services.get(service);
    if (s) delete s.loadBalancer;
    return Promise.resolve();
  }

  /** Forgets everything of the service. */
  deleteService(service: string): Promise<void> {
    this.#record({ method: "deleteService", arg: service });
    this.services.delete(service);
    return Promise.resolve();
  }

  /**
   * Services that hold simulated resources: rules on instances, DNS endpoints or a load balancer
   * (a service whose resources were all synced away keeps its record in `services`, emptied).
   */
  listServices(): Promise<string[]> {
    return Promise.resolve(
      [...this.services].filter(([, s]) =>
        s.firewall?.instances.length || s.dns?.endpoints.length || s.loadBalancer
      ).map(([key]) => key),
    );
  }

  /**
   * Simulated instances keep running, as real ones outlive a controller; with a store, waits
   * until every write is committed. Boots still under way end here (after a restart their
   * instances are running).
   */
  async close(): Promise<void> {
    this.#closed = true;
    for (const [id, timer] of this.#booting) {
      clearTimeout(timer);
      const inst = this.instances.get(id);
      if (inst?.state === "pending") inst.state = "running";
    }
    this.#booting.clear();
    await this.options.store?.flush();
  }

  /** Stops every simulated agent and forgets all instances and calls. */
  reset(): void {
    for (const stop of this.#stops.values()) stop();
    for (const timer of this.#booting.values()) clearTimeout(timer);
    this.#booting.clear();
    this.#stops.clear();
    this.instances.clear();
    this.#byToken.clear();
    this.#tokens.clear();
    this.#held?.clear();
    this.calls.length = 0;
  }
}
