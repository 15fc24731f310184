import type { Device } from 'frida';
import { UserError } from '../base/errors.js';
import type { Frida } from './frida.js';

export interface DeviceChoice {
  usb?: boolean;
  deviceId?: string;
  /** HOST[:PORT] of a frida-server. */
  host?: string;
}

const DEVICE_TIMEOUT_MS = 5000;

/** -U, -D ID, -H HOST[:PORT], or the local system, as frida-trace users know them. */
export async function resolveDevice(frida: Frida, choice: DeviceChoice): Promise<Device> {
  try {
    if (choice.host !== undefined) return await frida.getDeviceManager().addRemoteDevice(choice.host);
    if (choice.deviceId !== undefined) return await frida.getDevice(choice.deviceId, { timeout: DEVICE_TIMEOUT_MS });
    if (choice.usb) return await frida.getUsbDevice({ timeout: DEVICE_TIMEOUT_MS });
    return await frida.getLocalDevice();
  } catch (e) {
    const what = choice.host !== undefined ? `remote device ${choice.host}` : choice.deviceId !== undefined ? `device ${choice.deviceId}` : 'a USB device';
    throw new UserError(`${what} not found: ${(e as Error).message}`);
  }
}

export function describeDevice(device: Device): string {
  return device.type === 'local' ? 'local' : `${device.name} (${device.id})`;
}
