/**
 * The in-process simulated cloud: no processes, no network. Instances appear after a
 * scriptable latency; launches fail on demand; every call is recorded. The node's agent is
 * started through an injected hook, so tests and benchmarks can run the real agent logic
 * on a fake unit runtime (see `agent/in_process.ts`).
 */
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

/** How the simulated cloud behaves. */
export interface SimOptions {
  /** Milliseconds a launch takes. @default 0 */
  launchLatencyMs?: number;
  /** Starts the instance's agent; the returned function stops it (on terminate). */
  startAgent?: (instance: Instance, req: LaunchRequest) => (() => void) | void;
  /** Return an error to make a launch fail. */
  failLaunch?: (req: LaunchRequest) => Error | undefined;
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
  #stops = new Map<string, () => void>();
  #next = 1;

  constructor(private options: SimOptions = {}) {}

  /** Changes behaviour from now on (latency, failures). */
  configure(options: Partial<SimOptions>): void {
    this.options = { ...this.options, ...options };
  }

  /** Boots a simulated instance; idempotent by client token, also for concurrent launches. */
  launch(req: LaunchRequest): Promise<Instance> {
    this.calls.push({ method: "launch", arg: req });
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
    const instance: Instance = {
      id: `i-sim${n.toString(16).padStart(13, "0")}`,
      nodeName: req.nodeName,
      instanceType: req.instanceType,
      state: "running",
      spot: req.spot,
      addresses: [{
        type: "PrivateIP",
        address: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
      }],
      launchedAt: Date.now(),
    };
    this.instances.set(instance.id, instance);
    const stop = this.options.startAgent?.(instance, req);
    if (stop) this.#stops.set(instance.id, stop);
    return instance;
  }

  /** Terminates a simulated instance and stops its agent; repeating is harmless. */
  terminate(instanceId: string): Promise<void> {
    this.calls.push({ method: "terminate", arg: instanceId });
    const inst = this.instances.get(instanceId);
    if (inst && inst.state !== "terminated") {
      inst.state = "terminated";
      this.#stops.get(instanceId)?.();
      this.#stops.delete(instanceId);
    }
    return Promise.resolve();
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
    inst.state = "terminated";
    this.#stops.get(instanceId)?.();
    this.#stops.delete(instanceId);
    for (const l of this.#exitListeners) l({ instanceId, nodeName: inst.nodeName, reason });
  }

  /** Instances not terminated. */
  listInstances(): Promise<Instance[]> {
    this.calls.push({ method: "listInstances" });
    return Promise.resolve([...this.instances.values()].filter((i) => i.state !== "terminated"));
  }

  #service(key: string): SimService {
    if (!this.services.has(key)) this.services.set(key, {});
    return this.services.get(key)!;
  }

  /** Records the service's rules and the instances that carry them. */
  syncFirewall(service: string, rules: IngressRule[], instances: string[]): Promise<void> {
    this.calls.push({ method: "syncFirewall", arg: { service, rules, instances } });
    this.#service(service).firewall = { rules: [...rules], instances: [...instances].sort() };
    return Promise.resolve();
  }

  /** Records the service's DNS ports and endpoints. */
  syncDns(
    service: string,
    ports: ServiceDnsPort[],
    endpoints: { pod: string; address: string }[],
  ): Promise<void> {
    this.calls.push({ method: "syncDns", arg: { service, ports, endpoints } });
    this.#service(service).dns = { ports: [...ports], endpoints: [...endpoints] };
    return Promise.resolve();
  }

  /** Records the load balancer and gives it a simulated address. */
  syncLoadBalancer(
    service: string,
    spec: LoadBalancerSpec,
    backends: { id: string; address: string }[],
  ): Promise<LoadBalancerState> {
    this.calls.push({ method: "syncLoadBalancer", arg: { service, spec, backends } });
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
    this.calls.push({ method: "removeLoadBalancer", arg: service });
    const s = this.services.get(service);
    if (s) delete s.loadBalancer;
    return Promise.resolve();
  }

  /** Forgets everything of the service. */
  deleteService(service: string): Promise<void> {
    this.calls.push({ method: "deleteService", arg: service });
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

  /** Releases nothing: simulated instances keep running, as real ones outlive a controller. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Stops every simulated agent and forgets all instances and calls. */
  reset(): void {
    for (const stop of this.#stops.values()) stop();
    this.#stops.clear();
    this.instances.clear();
    this.#byToken.clear();
    this.calls.length = 0;
  }
}
