import type { CommandModule } from 'yargs';
import { table } from '../../base/text-table.js';

export const devicesCommand: CommandModule = {
  command: 'devices',
  describe: 'List the devices Frida can reach (local, USB, remote)',
  handler: async () => {
    const { loadFrida } = await import('../../recording/frida.js');
    const frida = await loadFrida();
    const devices = await frida.enumerateDevices();
    console.log(table(['id', 'type', 'name'], devices.map((d) => [d.id, d.type, d.name]), [false, false, false]).join('\n'));
  },
};
