// The base of every expected error: a one-line message naming the thing at fault, plus a hint saying what
// to do. The CLI prints `hint` under the message; anything else thrown is shown as an internal error.

export class HintedError extends Error {
  /** What the user can do about it, in one line. */
  hint?: string;
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    if (hint !== undefined) this.hint = hint;
  }
}
