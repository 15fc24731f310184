// What stalk-trace records: Linux and Android processes (Android reports 'linux') on x64 and
// arm64, the architectures schemas/agent.json names. Anything else is refused at init, before a
// CModule is compiled for it, with one sentence.
import type { AgentInfo } from '../host/schema/protocol.generated.js';

export type TargetArch = AgentInfo['arch'];

/** This process's architecture; throws, saying why, where stalk-trace cannot record. */
export function targetArch(): TargetArch {
  if (Process.platform !== 'linux') throw new Error(`stalk-trace records Linux and Android targets, not ${Process.platform}`);
  const arch = Process.arch;
  if (arch !== 'x64' && arch !== 'arm64') throw new Error(`stalk-trace records x64 and arm64 processes, not ${arch}`);
  return arch;
}
