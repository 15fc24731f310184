// Everything the agent tells the host goes through here (schemas/agent.json).
import type { MetaMessage } from '../host/schema/layout.generated.js';
import type { AgentMessage } from '../host/schema/protocol.generated.js';

export function post(message: AgentMessage, data?: ArrayBuffer): void {
  send(message, data ?? null);
}

export function postMeta(message: MetaMessage): void {
  post({ type: 'meta', message });
}

/** Blocks this thread until the host answers `type`: what was sent before is then safely received. */
export function awaitAck(type: string): void {
  recv(type, () => {}).wait();
}
