/**
 * The one interface between the controller and a cloud. Every implementation
 * (local, sim, aws) passes the shared contract suite in `cloud/provider_contract.ts`.
 *
 * Contract, for every method:
 * - Calls may be repeated after a crash; they must then do nothing new.
 * - Errors are Milpa error classes (`CapacityError`, `UnavailableError`, ...),
 *   never SDK types.
 * - Every resource a provider creates carries the controller id so that
 *   `listInstances` finds orphans.
 */
import type { AgentConfig } from "../model/agent_protocol.ts";
import type { NetworkAddress } from "../model/pod.ts";

/** What to boot. */
export interface LaunchRequest {
  /**
   * Idempotency key (the node name). A second launch with the same token returns the
   * instance the first one made, whether or not the first call returned.
   */
  clientToken: string;
  nodeName: string;
  instanceType: string;
  spot: boolean;
  privateIPOnly: boolean;
  /** Root volume size in GiB. */
  volumeSizeGiB: number;
  bootImage?: string;
  /** What the node's agent needs to dial the controller. */
  agent: Omit<AgentConfig, "dataDir" | "podIP" | "logFile">;
  /** Availability zone constraint, if the pod has one. */
  availabilityZone?: string;
}

/** Lifecycle of a cloud instance as the provider sees it. */
export type InstanceState = "pending" | "running" | "terminated";

/** A cloud instance. */
export interface Instance {
  id: string;
  nodeName: string;
  instanceType: string;
  state: InstanceState;
  addresses: NetworkAddress[];
  spot: boolean;
  /** Epoch milliseconds. */
  launchedAt: number;
}

/** A cloud that runs nodes. */
export interface CloudProvider {
  /** Short provider name: "local", "sim", "aws". */
  readonly name: string;

  /**
   * Boots an instance and resolves once it exists and its addresses are known
   * (it may still be booting). Idempotent by `clientToken`.
   * Throws `CapacityError` when the type (or spot capacity) cannot be had now.
   */
  launch(req: LaunchRequest): Promise<Instance>;

  /** Terminates an instance. Safe to repeat; an unknown id is not an error. */
  terminate(instanceId: string): Promise<void>;

  /**
   * Every live (not terminated) instance this controller made, including ones the
   * controller has forgotten: the garbage collector terminates those.
   */
  listInstances(): Promise<Instance[]>;

  /** Releases provider resources (timers, sockets). Instances keep running. */
  close(): Promise<void>;
}
