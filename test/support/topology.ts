/**
 * Servers the topology tests start themselves, from Debian's packages, on extra ports of 127.0.0.1, with their data
 * in temporary folders, and stop afterwards: a PostgreSQL primary with a streaming replica, a MariaDB primary with a
 * binlog replica, a three-node MariaDB Galera cluster. The main servers (5432, 3306) are never touched.
 *
 * Each `start*` answers the servers' URLs and a `stop()`, or a reason it cannot run here (a package missing); the
 * test files turn that reason into a loud skip, and into a failure under DB_REQUIRE=all.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { createConnection, type Connection } from "mysql2/promise";

const PG_BIN = "/usr/lib/postgresql/15/bin";
const MARIADBD = "/usr/sbin/mariadbd";
const INSTALL_DB = "/usr/bin/mariadb-install-db";
const GALERA = "/usr/lib/galera/libgalera_smm.so";

const isRoot = process.getuid?.() === 0;

/** Whether topology tests must run (CI) rather than skip when something is missing. */
export const TOPOLOGY_REQUIRED = (process.env["DB_REQUIRE"] ?? "") === "all";

/** Announces a skipped topology suite loudly, or fails it under DB_REQUIRE=all. */
export function topologyUnavailable(what: string, reason: string): never | void {
  const message = `${what}: ${reason}`;
  if (TOPOLOGY_REQUIRED) throw new Error(`DB_REQUIRE=all: ${message}`);
  const bar = "!".repeat(78);
  process.stderr.write(`\n${bar}\n!! SKIPPING ${message}\n${bar}\n\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs a command as the given system user when the tests run as root (servers refuse root). */
function runAs(user: string, command: string, args: string[]): string {
  const [file, argv] = isRoot ? ["runuser", ["-u", user, "--", command, ...args]] : [command, args];
  return execFileSync(file, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function tempDir(prefix: string, owner: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (isRoot) {
    const uid = Number(execFileSync("id", ["-u", owner], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", owner], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o700);
  return dir;
}

// ---------------------------------------------------------------------------------------------------------------
// PostgreSQL: a primary and a streaming replica (pg_basebackup -R)

export interface PgNode {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
}

export interface PgReplicaPair {
  readonly primary: PgNode;
  readonly replica: PgNode;
  /** A SQL query on one node, on a connection of its own. */
  query(node: PgNode, sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  stopNode(node: PgNode): void;
  startNode(node: PgNode): void;
  stop(): void;
}

export function pgReplicaUnavailable(): string | undefined {
  if (!existsSync(join(PG_BIN, "pg_basebackup"))) return `PostgreSQL 15's binaries are not in ${PG_BIN}`;
  if (isRoot) {
    try {
      execFileSync("id", ["postgres"], { stdio: "ignore" });
    } catch {
      return "running as root and there is no postgres user to run the servers as";
    }
  }
  return undefined;
}

export async function startPgReplicaPair(primaryPort: number, replicaPort: number): Promise<PgReplicaPair> {
  const root = tempDir("inference-pgrepl-", "postgres");
  const node = (name: string, port: number): PgNode => ({
    port,
    dir: join(root, name),
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
  });
  const primary = node("primary", primaryPort);
  const replica = node("replica", replicaPort);
  const pgCtl = (target: PgNode, action: "start" | "stop") =>
    action === "start"
      ? runAs("postgres", join(PG_BIN, "pg_ctl"), [
          "-D",
          target.dir,
          "-l",
          `${target.dir}.log`,
          "-w",
          "-t",
          "30",
          "-o",
          `-p ${target.port} -k ${root} -c listen_addresses=127.0.0.1`,
          "start",
        ])
      : runAs("postgres", join(PG_BIN, "pg_ctl"), ["-D", target.dir, "-m", "immediate", "-w", "stop"]);

  runAs("postgres", join(PG_BIN, "initdb"), ["-D", primary.dir, "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
  writeFileSync(
    join(primary.dir, "postgresql.auto.conf"),
    [
      "wal_level = replica",
      "max_wal_senders = 5",
      "hot_standby = on",
      "fsync = off",
      "wal_retrieve_retry_interval = 500ms",
      "shared_buffers = 32MB",
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(primary.dir, "pg_hba.conf"),
    ["local all all trust", "host all all 127.0.0.1/32 trust", "host replication all 127.0.0.1/32 trust", ""].join(
      "\n",
    ),
  );
  pgCtl(primary, "start");
  runAs("postgres", join(PG_BIN, "pg_basebackup"), [
    "-h",
    "127.0.0.1",
    "-p",
    String(primary.port),
    "-U",
    "postgres",
    "-D",
    replica.dir,
    "-R",
    "-X",
    "stream",
  ]);
  pgCtl(replica, "start");

  const query = async (target: PgNode, sql: string, params: unknown[] = []) => {
    const client = new Client({ connectionString: target.url, connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  };
  // the replica is streaming once it has replayed what the primary wrote so far
  for (let i = 0; i < 100; i++) {
    const [row] = await query(primary, "SELECT count(*)::int AS n FROM pg_stat_replication WHERE state = 'streaming'");
    if (row?.["n"] === 1) break;
    await sleep(100);
  }
  return {
    primary,
    replica,
    query,
    stopNode: (target) => pgCtl(target, "stop"),
    startNode: (target) => pgCtl(target, "start"),
    stop: () => {
      for (const target of [replica, primary]) {
        try {
          pgCtl(target, "stop");
        } catch {
          // already stopped
        }
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// MariaDB: standalone servers (a binlog primary and replica; a Galera cluster)

export interface MariaNode {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  process?: ChildProcess;
}

export function mariadbUnavailable(galera = false): string | undefined {
  if (!existsSync(MARIADBD) || !existsSync(INSTALL_DB)) return "mariadbd or mariadb-install-db is not installed";
  if (galera) {
    if (!existsSync(GALERA)) return `the Galera library is not installed (${GALERA}; apt-get install galera-4)`;
    try {
      execFileSync("rsync", ["--version"], { stdio: "ignore" });
    } catch {
      return "rsync is not installed (Galera's state transfer uses it; apt-get install rsync)";
    }
  }
  return undefined;
}

function installDb(dir: string): void {
  runAs("mysql", INSTALL_DB, [
    `--datadir=${dir}`,
    "--auth-root-authentication-method=normal",
    "--skip-test-db",
    "--wsrep-on=OFF",
  ]);
}

function serverArgs(node: MariaNode, root: string, extra: string[]): string[] {
  return [
    "--no-defaults",
    `--datadir=${node.dir}`,
    `--port=${node.port}`,
    "--bind-address=127.0.0.1",
    `--socket=${join(root, `${node.name}.sock`)}`,
    `--pid-file=${join(root, `${node.name}.pid`)}`,
    `--log-error=${node.dir}.err`,
    "--innodb-buffer-pool-size=64M",
    "--innodb-log-file-size=48M",
    "--innodb-flush-log-at-trx-commit=2",
    "--skip-name-resolve",
    "--local-infile=1",
    "--max-connections=200",
    ...extra,
  ];
}

function spawnMariadb(node: MariaNode, root: string, extra: string[]): void {
  const args = serverArgs(node, root, extra);
  const [file, argv] = isRoot ? ["runuser", ["-u", "mysql", "--", MARIADBD, ...args]] : [MARIADBD, args];
  node.process = spawn(file, argv, { stdio: "ignore" });
}

export async function mariaQuery(node: MariaNode, sql: string, params: unknown[] = []): Promise<unknown> {
  const connection = await mariaConnect(node);
  try {
    const [rows] = await connection.query(sql, params);
    return rows;
  } finally {
    await connection.end();
  }
}

function mariaConnect(node: MariaNode, timeoutMs = 3000): Promise<Connection> {
  return createConnection({ host: "127.0.0.1", port: node.port, user: "root", connectTimeout: timeoutMs });
}

async function waitForMariadb(node: MariaNode, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  let last: unknown;
  while (Date.now() < deadline) {
    if (node.process && node.process.exitCode !== null) break;
    try {
      const connection = await mariaConnect(node, 1000);
      await connection.end();
      return;
    } catch (error) {
      last = error;
      await sleep(200);
    }
  }
  const log = existsSync(`${node.dir}.err`) ? readFileSync(`${node.dir}.err`, "utf8").split("\n").slice(-15) : [];
  throw new Error(`MariaDB ${node.name} on ${node.port} did not start: ${String(last)}\n${log.join("\n")}`);
}

/** Stops a server and waits until its process is gone (PID 1 here reaps late: the exit event is what counts). */
async function stopMariadb(node: MariaNode, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  const child = node.process;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  // runuser forwards the signal to the server it started
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

export interface MariaReplicaPair {
  readonly primary: MariaNode;
  readonly replica: MariaNode;
  stopNode(node: MariaNode): Promise<void>;
  startNode(node: MariaNode): Promise<void>;
  stop(): Promise<void>;
}

export async function startMariaReplicaPair(primaryPort: number, replicaPort: number): Promise<MariaReplicaPair> {
  const root = tempDir("inference-mariarepl-", "mysql");
  const make = (name: string, port: number): MariaNode => ({
    name,
    port,
    dir: join(root, name),
    url: `mariadb://root@127.0.0.1:${port}/inference_test`,
  });
  const primary = make("primary", primaryPort);
  const replica = make("replica", replicaPort);
  const extra: Record<string, string[]> = {
    primary: ["--server-id=1", "--log-bin=primary-bin", "--binlog-format=ROW"],
    replica: ["--server-id=2", "--log-bin=replica-bin", "--read-only=1", "--relay-log=replica-relay"],
  };
  installDb(primary.dir);
  installDb(replica.dir);
  const start = async (node: MariaNode) => {
    spawnMariadb(node, root, extra[node.name]!);
    await waitForMariadb(node, 30);
  };
  await Promise.all([start(primary), start(replica)]);
  await mariaQuery(primary, "CREATE DATABASE IF NOT EXISTS inference_test CHARACTER SET utf8mb4");
  await mariaQuery(
    replica,
    `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${primary.port}, MASTER_USER='root', MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1`,
  );
  await mariaQuery(replica, "START SLAVE");
  for (let i = 0; i < 100; i++) {
    const found = (await mariaQuery(replica, "SHOW DATABASES LIKE 'inference_test'")) as unknown[];
    if (found.length === 1) break;
    await sleep(100);
  }
  return {
    primary,
    replica,
    stopNode: (node) => stopMariadb(node),
    startNode: start,
    stop: async () => {
      await Promise.all([stopMariadb(replica), stopMariadb(primary)]);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export interface GaleraCluster {
  readonly nodes: readonly MariaNode[];
  stop(): Promise<void>;
}

/** Three Galera nodes (node 1 bootstraps the cluster), each with its client, wsrep, IST and SST ports. */
export async function startGaleraCluster(basePort: number): Promise<GaleraCluster> {
  const root = tempDir("inference-galera-", "mysql");
  const nodes: MariaNode[] = [0, 1, 2].map((i) => ({
    name: `node${i + 1}`,
    port: basePort + i,
    dir: join(root, `node${i + 1}`),
    url: `mariadb://root@127.0.0.1:${basePort + i}/inference_test`,
  }));
  const wsrepPort = (i: number) => basePort + 100 + i * 10;
  const addresses = nodes.map((_, i) => `127.0.0.1:${wsrepPort(i)}`).join(",");
  const args = (i: number) => [
    "--wsrep-on=ON",
    `--wsrep-provider=${GALERA}`,
    `--wsrep-cluster-address=gcomm://${addresses}`,
    "--wsrep-cluster-name=inference",
    `--wsrep-node-name=${nodes[i]!.name}`,
    `--wsrep-node-address=127.0.0.1:${wsrepPort(i)}`,
    `--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:${wsrepPort(i)};ist.recv_addr=127.0.0.1:${wsrepPort(i) + 1};gcache.size=32M`,
    `--wsrep-sst-receive-address=127.0.0.1:${wsrepPort(i) + 2}`,
    "--wsrep-sst-method=rsync",
    "--binlog-format=ROW",
    "--innodb-autoinc-lock-mode=2",
    "--default-storage-engine=InnoDB",
    `--server-id=${i + 1}`,
    ...(i === 0 ? ["--wsrep-new-cluster"] : []),
  ];
  for (const node of nodes) installDb(node.dir);
  spawnMariadb(nodes[0]!, root, args(0));
  await waitForMariadb(nodes[0]!, 60);
  for (const i of [1, 2]) spawnMariadb(nodes[i]!, root, args(i));
  await Promise.all([waitForMariadb(nodes[1]!, 90), waitForMariadb(nodes[2]!, 90)]);
  for (let attempt = 0; attempt < 300; attempt++) {
    const rows = (await mariaQuery(nodes[2]!, "SHOW STATUS LIKE 'wsrep_cluster_size'")) as { Value: string }[];
    if (rows[0]?.Value === "3") break;
    await sleep(100);
  }
  await mariaQuery(nodes[0]!, "CREATE DATABASE IF NOT EXISTS inference_test CHARACTER SET utf8mb4");
  return {
    nodes,
    stop: async () => {
      for (const node of [...nodes].reverse()) await stopMariadb(node);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
