// The one error type of lib/pki: a bad input file, named with the field at fault and what to do (kind bad-input, lib/errors.ts).

import { HarderError } from '../errors.ts';

/**
 * A problem with an input file (request config, signing config, key or certificate). The message always
 * starts with the file and, when one field is at fault, names it in the dotted/indexed form a user can
 * find in the JSON (`hosts[2]`, `signing.profiles.server.usages[0]`).
 */
export class PkiInputError extends HarderError<'bad-input'> {
  constructor(file: string, field: string | undefined, problem: string, hint?: string) {
    super('bad-input', field === undefined ? `${file}: ${problem}` : `${file}, field "${field}": ${problem}`, field === undefined ? { file } : { file, field }, { hint });
  }
  get file(): string {
    return this.facts.file;
  }
  get field(): string | undefined {
    return this.facts.field;
  }
}
