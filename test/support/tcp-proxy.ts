// A loopback TCP proxy in front of the real broker: "down" means nothing listens on its port;
// "cut" drops every open connection; "blackhole" stops forwarding without closing anything (a
// NAT or firewall that forgot the flow: neither side hears of it). Lets a test make RabbitMQ (or
// PostgreSQL) unreachable and bring it back without touching the shared service.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Transform } from 'node:stream';

interface Link {
  holed: boolean;
}

interface Trap {
  match: (toServer: Buffer) => boolean;
  /** The matching chunk still reaches the server; the hole starts right after it. */
  forward: boolean;
  sprung: () => void;
}

export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly links = new Set<Link>();
  private trap: Trap | undefined;

  constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      const link: Link = { holed: false };
      this.links.add(link);
      this.sockets.add(client);
      this.sockets.add(upstream);
      const drop = (side: Socket) => () => {
        // Through a blackhole the other side never hears that this one went away.
        if (link.holed) return void side.destroy();
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
        this.links.delete(link);
      };
      client.on('error', drop(client)).on('close', drop(client));
      upstream.on('error', drop(upstream)).on('close', drop(upstream));
      client.pipe(this.gate(link, true)).pipe(upstream);
      upstream.pipe(this.gate(link, false)).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  /** Passes bytes through until the link is holed; then swallows them (both ways). */
  private gate(link: Link, toServer: boolean): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        if (!link.holed && toServer && this.trap?.match(chunk)) {
          const { forward, sprung } = this.trap;
          this.trap = undefined;
          link.holed = true;
          sprung();
          return done(null, forward ? chunk : undefined);
        }
        done(null, link.holed ? undefined : chunk);
      },
    });
  }

  /** Every open connection stops forwarding, both ways, and nothing is closed; new ones work. */
  blackhole(): void {
    for (const link of this.links) link.holed = true;
  }

  /**
   * Arms a one-shot blackhole: the first connection that sends the server a chunk matching
   * `match` stops forwarding there (with `forward`, that chunk still reaches the server and only
   * what follows, including the answer, is swallowed). Other and new connections work.
   * Resolves when it has caught a connection.
   */
  blackholeWhen(match: (toServer: Buffer) => boolean, opts: { forward: boolean }): Promise<void> {
    return new Promise((sprung) => {
      this.trap = { match, forward: opts.forward, sprung };
    });
  }

  /** Drops every connection (the clients see the broker vanish). */
  cut(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.links.clear();
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.cut();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
