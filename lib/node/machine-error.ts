// The error of a machine reached over SSH that cannot be used (kind machine-failed, lib/errors.ts): the
// message starts with the machine's name and address, the hint says what to do.

import { HarderError } from '../errors.ts';

export class MachineError extends HarderError<'machine-failed'> {
  constructor(machine: string, address: string, problem: string, hint?: string, options: { cause?: unknown } = {}) {
    super('machine-failed', `${machine} (${address}): ${problem}`, { machine, address }, { hint, cause: options.cause });
  }
}
