// The one error type of lib/pki: a bad input file, named with the field at fault and what to do.

/**
 * A problem with an input file (request config, signing config, key or certificate). The message always
 * starts with the file and, when one field is at fault, names it in the dotted/indexed form a user can
 * find in the JSON (`hosts[2]`, `signing.profiles.server.usages[0]`).
 */
export class PkiInputError extends Error {
  readonly file: string;
  readonly field: string | undefined;
  readonly hint: string | undefined;

  constructor(file: string, field: string | undefined, problem: string, hint?: string) {
    super(field === undefined ? `${file}: ${problem}` : `${file}, field "${field}": ${problem}`);
    this.name = 'PkiInputError';
    this.file = file;
    this.field = field;
    this.hint = hint;
  }
}
