// PostGraphile 5 (amber preset, grafserv on node:http) over one PostgreSQL schema, for bench/postgres.py.
//
//   node server.mjs --database-url postgresql://postgres@127.0.0.1:5432/test --schema s \
//       --port 8000 --workers 2 --pool-size 10 [--print-schema]
//
// The launcher forks one Node process per worker; each listens on its own socket with SO_REUSEPORT
// (`reusePort`, Node >= 22.12), as `cove serve --workers N` does, so the kernel spreads connections
// the same way for every server in the benchmark. It prints `Ready` once every worker listens.
// `--print-schema` prints the GraphQL schema PostGraphile builds for the table and exits.

import { createServer } from "node:http";
import { fork } from "node:child_process";
import { parseArgs } from "node:util";
import { postgraphile } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
import { printSchema } from "postgraphile/graphql";

const { values: opts } = parseArgs({
  options: {
    "database-url": { type: "string" },
    schema: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "0" },
    workers: { type: "string", default: "1" },
    "pool-size": { type: "string", default: "10" },
    "print-schema": { type: "boolean", default: false },
  },
});
if (!opts["database-url"] || !opts.schema) {
  console.error("error: --database-url and --schema are required");
  process.exit(2);
}
const workers = Number(opts.workers);
const poolSize = Number(opts["pool-size"]);
if (!(workers >= 1) || !(poolSize >= 1)) {
  console.error("error: --workers and --pool-size must be whole numbers >= 1");
  process.exit(2);
}

function makePgl() {
  return postgraphile({
    extends: [PostGraphileAmberPreset],
    pgServices: [
      makePgService({
        connectionString: opts["database-url"],
        schemas: [opts.schema],
        poolConfig: { max: poolSize, application_name: "cove_bench_postgraphile" },
        pubsub: false, // no subscriptions in the benchmark: no LISTEN connection
      }),
    ],
    grafserv: { graphqlPath: "/graphql", graphiql: false, watch: false, websockets: false },
    grafast: { explain: false },
  });
}

if (opts["print-schema"]) {
  const pgl = makePgl();
  process.stdout.write(printSchema(await pgl.getSchema()) + "\n");
  await pgl.release();
} else if (process.env.COVE_BENCH_PG_WORKER === undefined) {
  // The launcher: fork the workers, wait until each listens, forward SIGTERM.
  const children = [];
  let ready = 0;
  for (let i = 0; i < workers; i++) {
    const child = fork(process.argv[1], process.argv.slice(2), {
      env: { ...process.env, COVE_BENCH_PG_WORKER: String(i) },
    });
    child.on("message", (msg) => {
      if (msg === "listening" && ++ready === workers) {
        console.log(`Ready: PostGraphile on http://${opts.host}:${opts.port}/graphql, ${workers} worker(s)`);
      }
    });
    child.on("exit", (code, signal) => {
      if (!stopping) {
        console.error(`error: PostGraphile worker ${i} exited (code ${code}, signal ${signal})`);
        stop(1);
      }
    });
    children.push(child);
  }
  let stopping = false;
  const stop = (code) => {
    stopping = true;
    for (const child of children) child.kill("SIGTERM");
    Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.on("exit", r))))).then(
      () => process.exit(code),
    );
  };
  process.on("SIGTERM", () => stop(0));
  process.on("SIGINT", () => stop(0));
} else {
  const pgl = makePgl();
  const serv = pgl.createServ(grafserv);
  const server = createServer();
  server.keepAliveTimeout = 65_000;
  server.on("connection", (socket) => socket.setNoDelay(true));
  await serv.addTo(server);
  await pgl.getSchema(); // build the schema before the first request, not during it
  server.listen({ host: opts.host, port: Number(opts.port), reusePort: true }, () => process.send("listening"));
  process.on("SIGTERM", async () => {
    server.close();
    await pgl.release();
    process.exit(0);
  });
}
