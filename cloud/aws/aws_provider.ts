/**
 * The AWS provider: a node is an EC2 instance of the selected type, tagged with the
 * controller id and its node name, booted from the configured image with user-data that
 * starts the agent. Launches are idempotent by node: an instance already tagged with the
 * node's name is returned instead of launching again (and the ClientToken covers retries
 * inside EC2), so a controller that died right after RunInstances never makes a second one.
 * Instances require IMDSv2 (`METADATA_OPTIONS`).
 * Services are handed to `ServiceNetworking` (security groups, Route 53, classic ELB).
 */
import type {
  CloudProvider,
  IngressRule,
  Instance,
  InstanceState,
  LaunchRequest,
  LoadBalancerSpec,
  LoadBalancerState,
  ServiceDnsPort,
  ServiceNetworking,
} from "../provider.ts";
import { NotFoundError, UnavailableError } from "../../model/errors.ts";
import type { NetworkAddress } from "../../model/pod.ts";
import { DescribeBatcher } from "./describe_batcher.ts";
import { type Caller, caller, type RetryOptions, stateReasonError } from "./errors.ts";
import type { Ec2Api, Ec2Instance, RunInstancesCommandInput } from "./sdk.ts";
import { cloudConfig } from "./user_data.ts";

/** Tag holding the controller id on everything Milpa makes. */
export const CONTROLLER_TAG = "MilpaControllerID";
/** Tag holding a node's name on its instance. */
export const NODE_TAG = "Node";
/** Tag holding `nodes.nametag` on instances, when it is set (Milpa's). */
export const NAMETAG_TAG = "MilpaNametag";

/** Where nodes go. */
export interface AwsPlacement {
  subnetId: string;
  /** The cluster security group every node gets. */
  clusterGroupId: string;
  /** The boot image (AMI id). */
  imageId: string;
  /** More security groups every node is in (`nodes.extraSecurityGroups`). @default [] */
  extraGroupIds?: string[];
  /** In each instance's `Name` tag and its `MilpaNametag` tag (`nodes.nametag`). @default the controller id */
  nametag?: string;
  /** The keys of `nodes.cloudInitFile`, merged into every node's user-data (user_data.ts). */
  userCloudConfig?: Record<string, unknown>;
}

/** What the AWS provider is built from. */
export interface AwsProviderOptions extends AwsPlacement {
  ec2: Pick<Ec2Api, "runInstances" | "describeInstances" | "terminateInstances">;
  services: ServiceNetworking;
  controllerId: string;
  /** How long a launch waits for the instance to run (to learn its addresses). @default 120000 */
  runningTimeoutMs?: number;
  /** Poll period while waiting. @default 2000 */
  pollMs?: number;
  /** How long instance lookups are gathered into one DescribeInstances. @default 100 */
  describeWindowMs?: number;
  /** How throttled calls are retried. */
  retry?: RetryOptions;
  /** Released on close() (SDK clients). */
  close?: () => void;
}

/** UTF-8 text as base64 (`btoa` takes Latin-1 only; a cloud-init file may hold more). */
function base64(text: string): string {
  let bin = "";
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin);
}

function tag(i: Ec2Instance, key: string): string | undefined {
  return i.Tags?.find((t) => t.Key === key)?.Value;
}

function stateOf(i: Ec2Instance): InstanceState {
  const s = i.State?.Name;
  return s === "running" ? "running" : s === "pending" ? "pending" : "terminated";
}

/** The addresses Milpa reports for an instance (pod status and node status). */
export function addressesOf(i: Ec2Instance): NetworkAddress[] {
  const out: NetworkAddress[] = [];
  if (i.PrivateIpAddress) out.push({ type: "PrivateIP", address: i.PrivateIpAddress });
  if (i.PublicIpAddress) out.push({ type: "PublicIP", address: i.PublicIpAddress });
  if (i.PrivateDnsName) out.push({ type: "PrivateDNS", address: i.PrivateDnsName });
  if (i.PublicDnsName) out.push({ type: "PublicDNS", address: i.PublicDnsName });
  return out;
}

function toInstance(i: Ec2Instance): Instance {
  return {
    id: i.InstanceId!,
    nodeName: tag(i, NODE_TAG) ?? "",
    instanceType: i.InstanceType ?? "",
    state: stateOf(i),
    addresses: addressesOf(i),
    spot: i.InstanceLifecycle === "spot",
    launchedAt: i.LaunchTime ? new Date(i.LaunchTime).getTime() : 0,
  };
}

const LIVE = ["pending", "running", "stopping", "stopped"];
/** States of an instance that is terminated or on its way there. */
const ENDING = new Set(["shutting-down", "terminated"]);

/**
 * IMDSv2 only: the metadata service answers only requests carrying a session token, which takes
 * a PUT with a header (what a server tricked into fetching a URL cannot send), and the PUT's
 * answer does not survive a second network hop (a NAT'd container, a forwarding proxy). Units
 * share the node's network namespace, so this does not keep the pod's own processes out.
 */
export const METADATA_OPTIONS = {
  HttpTokens: "required",
  HttpPutResponseHopLimit: 1,
  HttpEndpoint: "enabled",
} as const satisfies RunInstancesCommandInput["MetadataOptions"];

/** A cloud whose nodes are EC2 instances. */
export class AwsProvider implements CloudProvider {
  readonly name = "aws";
  /** Nodes fetch the agent at boot (user_data.ts). */
  readonly fetchesAgent = true;
  readonly #batcher: DescribeBatcher;
  readonly #call: Caller;
  /** Launches under way in this process, by client token: concurrent ones share one. */
  readonly #launching = new Map<string, Promise<Instance>>();

  constructor(private readonly o: AwsProviderOptions) {
    this.#call = caller(o.retry);
    this.#batcher = new DescribeBatcher(o.ec2, this.#call, o.describeWindowMs);
  }

  /**
   * Launches (or finds) the node's instance and waits until it runs. A refusal is a
   * `CapacityError` when the type (or spot market) cannot be had now, else another Milpa error
   * whose message names the launch and carries AWS's text and code.
   */
  launch(req: LaunchRequest): Promise<Instance> {
    const running = this.#launching.get(req.clientToken);
    if (running) return running;
    const launch = this.#launch(req).finally(() => this.#launching.delete(req.clientToken));
    this.#launching.set(req.clientToken, launch);
    return launch;
  }

  async #launch(req: LaunchRequest): Promise<Instance> {
    const what = `launch a ${req.instanceType}${
      req.spot ? " spot" : ""
    } instance for node ${req.nodeName}`;
    const existing = await this.#byNode(req.nodeName);
    const inst = existing ?? await this.#run(req, what);
    return toInstance(await this.#waitRunning(inst, what));
  }

  async #byNode(node: string): Promise<Ec2Instance | undefined> {
    const found = await this.#call(
      `find the instance of node ${node}`,
      () =>
        this.o.ec2.describeInstances({
          Filters: [
            { Name: `tag:${CONTROLLER_TAG}`, Values: [this.o.controllerId] },
            { Name: `tag:${NODE_TAG}`, Values: [node] },
            { Name: "instance-state-name", Values: LIVE },
          ],
        }),
    );
    return found[0];
  }

  async #run(req: LaunchRequest, what: string): Promise<Ec2Instance> {
    const input: RunInstancesCommandInput = {
      ImageId: req.bootImage ?? this.o.imageId,
      InstanceType: req.instanceType as RunInstancesCommandInput["InstanceType"],
      MinCount: 1,
      MaxCount: 1,
      ClientToken: `${this.o.controllerId}-${req.clientToken}`.slice(0, 64),
      UserData: base64(cloudConfig(req.agent, this.o.userCloudConfig)),
      MetadataOptions: { ...METADATA_OPTIONS },
      NetworkInterfaces: [{
        DeviceIndex: 0,
        SubnetId: this.o.subnetId,
        Groups: [this.o.clusterGroupId, ...(this.o.extraGroupIds ?? [])],
        AssociatePublicIpAddress: !req.privateIPOnly,
        DeleteOnTermination: true,
      }],
      BlockDeviceMappings: [{
        DeviceName: "/dev/xvda",
        Ebs: {
          VolumeSize: Math.max(1, Math.ceil(req.volumeSizeGiB)),
          VolumeType: "gp3",
          DeleteOnTermination: true,
        },
      }],
      TagSpecifications: [{
        ResourceType: "instance",
        Tags: [
          { Key: CONTROLLER_TAG, Value: this.o.controllerId },
          { Key: NODE_TAG, Value: req.nodeName },
          {
            Key: "Name",
            Value: `Milpa Node ${this.o.nametag ?? this.o.controllerId} ${req.nodeName}`,
          },
          ...(this.o.nametag ? [{ Key: NAMETAG_TAG, Value: this.o.nametag }] : []),
        ],
      }],
      ...(req.spot
        ? {
          InstanceMarketOptions: {
            MarketType: "spot",
            SpotOptions: {
              SpotInstanceType: "one-time",
              InstanceInterruptionBehavior: "terminate",
            },
          },
        }
        : {}),
      ...(req.availabilityZone ? { Placement: { AvailabilityZone: req.availabilityZone } } : {}),
    };
    const [inst] = await this.#call(what, () => this.o.ec2.runInstances(input));
    if (!inst) throw new UnavailableError(`Cannot ${what}: RunInstances returned no instance`);
    return inst;
  }

  async #waitRunning(inst: Ec2Instance, what: string): Promise<Ec2Instance> {
    const deadline = Date.now() + (this.o.runningTimeoutMs ?? 120_000);
    let cur = inst;
    while (stateOf(cur) === "pending" || !cur.PrivateIpAddress) {
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, this.o.pollMs ?? 2000));
      cur = (await this.#batcher.get(inst.InstanceId!)) ?? cur;
    }
    if (stateOf(cur) === "terminated") {
      throw stateReasonError(cur.StateReason, `${what}: instance ${cur.InstanceId} ended at boot`);
    }
    return cur;
  }

  /** Terminates an instance. Safe to repeat: one that is unknown, gone or ending is done. */
  async terminate(instanceId: string): Promise<void> {
    try {
      await this.#call(
        `terminate instance ${instanceId}`,
        () => this.o.ec2.terminateInstances([instanceId]),
      );
    } catch (e) {
      if (e instanceof NotFoundError || await this.#ending(instanceId)) return;
      throw e;
    }
  }

  /**
   * Whether the instance is gone or ending, whatever TerminateInstances answered: after EC2 acted,
   * an answer can be lost and the call retried (by the SDK, or after a crash), and moto then
   * refuses every further TerminateInstances of an instance whose network interface it deleted
   * (`InvalidNetworkInterfaceID.NotFound`). False when that cannot be told.
   */
  async #ending(instanceId: string): Promise<boolean> {
    const inst = await this.#batcher.get(instanceId).catch(() => null);
    return inst !== null && (inst === undefined || ENDING.has(inst.State?.Name ?? ""));
  }

  /** Every live instance tagged with this controller's id. */
  async listInstances(): Promise<Instance[]> {
    const found = await this.#call(
      "list the controller's instances",
      () =>
        this.o.ec2.describeInstances({
          Filters: [
            { Name: `tag:${CONTROLLER_TAG}`, Values: [this.o.controllerId] },
            { Name: "instance-state-name", Values: LIVE },
          ],
        }),
    );
    return found.map(toInstance);
  }

  /** Security group rules of a service (see AwsServices). */
  syncFirewall(service: string, rules: IngressRule[], instances: string[]): Promise<void> {
    return this.o.services.syncFirewall(service, rules, instances);
  }

  /** Route 53 records of a service. */
  syncDns(
    service: string,
    ports: ServiceDnsPort[],
    endpoints: { pod: string; address: string }[],
  ): Promise<void> {
    return this.o.services.syncDns(service, ports, endpoints);
  }

  /** Deletes the service's ELB and its security group. */
  removeLoadBalancer(service: string): Promise<void> {
    return this.o.services.removeLoadBalancer(service);
  }

  /** The classic ELB of a service; backends are identified by instance id. */
  syncLoadBalancer(
    service: string,
    spec: LoadBalancerSpec,
    backends: { id: string; address: string }[],
  ): Promise<LoadBalancerState> {
    return this.o.services.syncLoadBalancer(service, spec, backends);
  }

  /** Removes a service's groups, records and load balancer. */
  deleteService(service: string): Promise<void> {
    return this.o.services.deleteService(service);
  }

  /** Services with AWS resources of ours. */
  listServices(): Promise<string[]> {
    return this.o.services.listServices();
  }

  /** Releases the SDK clients; instances keep running. */
  close(): Promise<void> {
    this.o.close?.();
    return Promise.resolve();
  }
}
