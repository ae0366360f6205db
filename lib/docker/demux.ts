// Splits Docker's multiplexed attach stream (8-byte header: stream type, 3 zero bytes, big-endian
// payload length) into payloads. Written here rather than using docker-modem's demuxStream because
// that one re-concatenates its whole pending buffer on every chunk and guesses "TTY mode" on a bad header.

/** Stream type 0 = stdin, 1 = stdout, 2 = stderr. */
export type FrameSink = (stream: number, payload: Buffer) => void;

/** Returns a push function; feed it raw chunks in order, payloads come out through `sink`. */
export function demuxFrames(sink: FrameSink): { push(chunk: Buffer): void } {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let header: Buffer | undefined;

  const take = (count: number): Buffer => {
    // Joins only as many chunks as needed for `count` bytes.
    const joined = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    const out = joined.subarray(0, count);
    const rest = joined.subarray(count);
    pending = rest.length > 0 ? [rest] : [];
    pendingBytes = rest.length;
    return out;
  };

  return {
    push(chunk: Buffer) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      for (;;) {
        if (!header) {
          if (pendingBytes < 8) return;
          header = take(8);
        }
        const length = header.readUInt32BE(4);
        if (pendingBytes < length) return;
        const stream = header.readUInt8(0);
        header = undefined;
        // Copy: the payload would otherwise pin the whole joined chunk in memory.
        sink(stream, Buffer.from(take(length)));
      }
    },
  };
}
