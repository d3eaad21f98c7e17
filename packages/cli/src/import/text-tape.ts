/**
 * A stream read once, that can still be read again from any place not yet given up: what a CSV reading needs to
 * start over just after a row whose quote took in the lines below it, when csv-parse has already read past them.
 */

/**
 * Holds what was read from the stream from the earliest place still wanted; a reading from a place hands out what is
 * held from there, then reads on.
 *
 * @example
 * const tape = new TextTape(bytes);
 * for await (const chunk of tape.from(0)) … // csv-parse reads
 * tape.release(recordStart); // nothing before is wanted again
 * for await (const chunk of tape.from(after)) … // read again from there, then on to the end
 */
export class TextTape {
  private readonly source: AsyncIterator<Buffer>;
  private held: Buffer[] = [];
  /** Where the first held chunk starts. */
  private heldFrom = 0;
  /** Where the last held chunk ends: how far the stream was read. */
  private heldTo = 0;
  /** How many chunks were let go. */
  private released = 0;
  private pulling: Promise<boolean> | null = null;

  constructor(source: AsyncIterable<Buffer>) {
    this.source = source[Symbol.asyncIterator]();
  }

  /** How far the stream was read, in bytes. */
  get length(): number {
    return this.heldTo;
  }

  /**
   * The stream from `offset` (not before the place released) to its end. A reading given up halfway leaves the stream
   * as it was: the chunk it was waiting for is held for the next reading.
   */
  async *from(offset: number): AsyncGenerator<Buffer> {
    if (offset < this.heldFrom) throw new Error(`the text before byte ${this.heldFrom} was released`);
    // The chunk handed out next, counted from the first ever held (releases drop chunks from the front meanwhile),
    // and where it starts.
    let next = this.released;
    let start = this.heldFrom;
    for (;;) {
      if (next < this.released) throw new Error(`the text before byte ${this.heldFrom} was released while being read`);
      for (let chunk = this.held[next - this.released]; chunk !== undefined; chunk = this.held[next - this.released]) {
        const end = start + chunk.length;
        next++;
        if (end > offset) yield chunk.subarray(Math.max(0, offset - start));
        start = end;
      }
      if (!(await this.pull())) return;
    }
  }

  /** The byte at `offset`, when it is held. */
  byteAt(offset: number): number | undefined {
    let start = this.heldFrom;
    for (const chunk of this.held) {
      if (offset >= start && offset < start + chunk.length) return chunk[offset - start];
      start += chunk.length;
    }
    return undefined;
  }

  /** Nothing before `offset` will be read again: the chunks wholly before it are let go. */
  release(offset: number): void {
    while (this.held.length > 0 && this.heldFrom + this.held[0].length <= offset) {
      this.heldFrom += (this.held.shift() as Buffer).length;
      this.released++;
    }
  }

  /** Reads one more chunk into what is held (one read at a time, whoever asks); false at the end of the stream. */
  private pull(): Promise<boolean> {
    this.pulling ??= this.source.next().then(
      (next) => {
        this.pulling = null;
        if (next.done) return false;
        const chunk = Buffer.from(next.value);
        this.held.push(chunk);
        this.heldTo += chunk.length;
        return true;
      },
      (err: unknown) => {
        this.pulling = null;
        throw err;
      },
    );
    return this.pulling;
  }
}
