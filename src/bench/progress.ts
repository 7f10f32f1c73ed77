// Progress on stderr, one line per stage: rewritten in place on a terminal, and on a pipe or
// file printed when a stage starts and ends (plus a line every few seconds on long stages).
export class Progress {
  private stage = '';
  private index = 0;
  private last = 0;
  private started = performance.now();
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly total: number) {}

  private prefix(): string {
    return `[${this.index}/${this.total}] ${this.stage}`;
  }

  private write(line: string, final: boolean): void {
    if (this.tty) process.stderr.write(`\r\x1b[K${line}${final ? '\n' : ''}`);
    else process.stderr.write(`${line}\n`);
  }

  start(stage: string): void {
    this.index++;
    this.stage = stage;
    this.started = performance.now();
    this.last = 0;
    this.write(`${this.prefix()} …`, false);
  }

  /** A running figure; throttled (terminal: 5 per second, otherwise every 5 s). */
  update(text: string): void {
    const now = performance.now();
    if (now - this.last < (this.tty ? 200 : 5000)) return;
    this.last = now;
    this.write(`${this.prefix()}: ${text}`, false);
  }

  end(text: string): void {
    const s = ((performance.now() - this.started) / 1000).toFixed(1);
    this.write(`${this.prefix()}: ${text} (${s} s)`, true);
  }

  note(text: string): void {
    this.write(text, true);
  }
}
