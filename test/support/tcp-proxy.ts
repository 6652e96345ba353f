import { createServer, connect, type Server, type Socket } from "node:net";

/**
 * A TCP proxy in front of a database server, for fault tests: it forwards, or stops answering ("black hole": it
 * accepts and never replies), or goes away entirely and comes back on the same port.
 */
export class TcpProxy {
  readonly #targetPort: number;
  #server: Server | undefined;
  #port = 0;
  #blackhole = false;
  readonly clients = new Set<Socket>();
  readonly #pairs = new Map<Socket, Socket>();

  private constructor(targetPort: number) {
    this.#targetPort = targetPort;
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort);
    await proxy.listen();
    return proxy;
  }

  get port(): number {
    return this.#port;
  }

  /** Accept connections but never answer; connections already open stop answering too. */
  blackhole(): void {
    this.#blackhole = true;
    for (const [client, upstream] of this.#pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      upstream.pause();
      swallow(client);
    }
  }

  /** The server "goes down": the port is closed and every connection is cut. */
  async down(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.clients) socket.destroy();
    for (const upstream of this.#pairs.values()) upstream.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The server "comes back" on the same port, forwarding again. */
  async up(): Promise<void> {
    this.#blackhole = false;
    await this.listen();
  }

  async close(): Promise<void> {
    await this.down();
  }

  private listen(): Promise<void> {
    const server = createServer((client) => {
      this.clients.add(client);
      client.on("close", () => {
        this.clients.delete(client);
        this.#pairs.get(client)?.destroy();
        this.#pairs.delete(client);
      });
      client.on("error", () => client.destroy());
      if (this.#blackhole) return swallow(client);
      const upstream = connect(this.#targetPort, "127.0.0.1");
      upstream.on("error", () => client.destroy());
      upstream.on("close", () => client.destroy());
      this.#pairs.set(client, upstream);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#port, "127.0.0.1", () => {
        this.#port = (server.address() as { port: number }).port;
        resolve();
      });
    });
  }
}

/** Reads and drops whatever the client sends, so its close is still seen. */
function swallow(client: Socket): void {
  client.on("data", () => undefined);
  client.resume();
}
