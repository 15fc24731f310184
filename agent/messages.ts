// Everything the agent tells the host goes through here (schemas/agent.json).
import type { MetaMessage } from '../host/schema/layout.generated.js';
import type { AgentEnvelope, AgentMessage } from '../host/schema/protocol.generated.js';

/** A message as its sender writes it: post() adds the envelope. */
type Body<M = AgentMessage> = M extends unknown ? Omit<M, keyof AgentEnvelope> : never;

let pipeWritten: (() => number) | null = null;

/** From now on event chunks go through the pipe: each message says how far into it the host must read first. */
export function throughPipe(written: () => number): void {
  pipeWritten = written;
}

export function post(message: Body, data?: ArrayBuffer): void {
  const envelope: AgentEnvelope = { through: pipeWritten === null ? null : pipeWritten() };
  send({ ...message, ...envelope }, data ?? null);
}

export function postMeta(message: MetaMessage): void {
  post({ type: 'meta', message });
}

/** Blocks this thread until the host answers `type`: what was sent before is then safely received. */
export function awaitAck(type: string): void {
  recv(type, () => {}).wait();
}
