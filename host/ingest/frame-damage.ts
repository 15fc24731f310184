import { UserError } from '../base/errors.js';

/**
 * A frame that passed its checksum but does not decode. It says where the frame starts, so the
 * frames before it can still be kept, and where in it the damage is.
 */
export class FrameDamage extends UserError {
  constructor(readonly frameOffset: number, readonly offset: number, readonly reason: string) {
    super(`capture is corrupt at byte offset ${offset}: ${reason}`);
  }
}
