// Progress on stderr for long commands (`warren export`, `warren prune`): one redrawn line on a
// terminal, a plain line every few seconds otherwise (logs, CI), so stdout stays for results.

export function bar(fraction: number, width = 24): string {
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${String(Math.floor(f * 100)).padStart(3)}%`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

export const thousands = (n: number) => n.toLocaleString('en-US');

export class ProgressLine {
  private last = 0;
  private width = 0;
  private readonly tty: boolean;
  private readonly everyMs: number;

  constructor(
    private readonly label: string,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = out.isTTY === true;
    this.everyMs = this.tty ? 100 : 2000;
  }

  /** Shows `text` if enough time has passed since the last update. */
  update(text: string): void {
    const now = Date.now();
    if (now - this.last < this.everyMs) return;
    this.last = now;
    this.write(text);
  }

  /** The last line of this progress, always shown. */
  done(text: string): void {
    this.write(text);
    if (this.tty) this.out.write('\n');
  }

  private write(text: string): void {
    const line = `${this.label}: ${text}`;
    if (this.tty) {
      this.out.write(`\r${line.padEnd(this.width)}`);
      this.width = line.length;
    } else this.out.write(`${line}\n`);
  }
}
