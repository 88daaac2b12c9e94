// d1seal bridge: a Worker that exposes its D1 bindings over HTTPS with the request and response
// shapes of D1's REST API (/query and /raw), so that a Go service past the REST API's
// account-wide budget (1,200 requests per five minutes) talks to D1 through a binding: no
// account-wide cap, next to the database, and read replicas through the Sessions API.
//
// Routes (POST only):
//
//	/v1/{binding}/raw     rows as arrays with columns, as REST /raw
//	/v1/{binding}/query   rows as objects, as REST /query
//
// With the query ?blobs=base64 (signed with the path), BLOB results come back as
// {"base64": "..."} instead of REST's arrays of byte values.
//
// {binding} names a D1 binding of this Worker (DB in the wrangler.toml template); any other
// name is refused. The body is REST's: {"sql", "params"} or {"batch": [{"sql", "params"}, ...]}.
// Params are JSON strings, numbers, null, arrays of byte values (BLOBs, as REST) or
// {"base64": "..."} (a BLOB in 1.33 characters per byte instead of about 3.6), each bound as a
// BLOB. Every request runs as one transaction, as REST runs it.
//
// Authentication: every request carries
//
//	X-D1seal-Timestamp  Unix seconds
//	X-D1seal-Nonce      16 to 64 characters [0-9A-Za-z_-], fresh per request
//	X-D1seal-Session    optional: first-primary, first-unconstrained or a bookmark
//	X-D1seal-Signature  hex HMAC-SHA256, keyed with the BRIDGE_SECRET Worker secret, of
//	                    "d1seal-bridge-v1\n" + method + "\n" + path + "\n" + timestamp + "\n" +
//	                    nonce + "\n" + session + "\n" + hex(SHA-256(body))
//
// and is refused (401, code 10000) when the signature does not verify, the timestamp is more
// than CLOCK_WINDOW seconds (default 60) away from the Worker's clock, or the nonce was seen
// within the window by this isolate. Errors never echo the secret, the signature or parameters.
//
// Sessions: with X-D1seal-Session the statements run in env[binding].withSession(value), and
// the response carries the session's latest bookmark in X-D1seal-Bookmark; the Go client sends
// it back with its next request, so a session reads its own writes on any replica.

const ENC = new TextEncoder();
const MAX_BODY = 50 * 1024 * 1024;
const NONCE = /^[0-9A-Za-z_-]{16,64}$/;
const BINDING = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

// Nonces seen by this isolate, with the time each may be forgotten (after the clock window).
const seen = new Map();

export default {
	async fetch(request, env) {
		try {
			return await handle(request, env);
		} catch (e) {
			// Never the message: it could quote parameters. D1 failures are answered below.
			return fail(500, 7500, 'internal error in the d1seal bridge');
		}
	},
};

async function handle(request, env) {
	const url = new URL(request.url);
	const m = /^\/v1\/([^/]+)\/(raw|query)$/.exec(url.pathname);
	if (request.method !== 'POST' || !m) {
		return fail(404, 7404, 'the d1seal bridge serves POST /v1/{binding}/raw and /v1/{binding}/query only');
	}
	const secret = env.BRIDGE_SECRET;
	if (typeof secret !== 'string' || secret.length < 32) {
		return fail(500, 7500, 'the bridge has no BRIDGE_SECRET of at least 32 characters: set it with wrangler secret put BRIDGE_SECRET');
	}
	const body = new Uint8Array(await request.arrayBuffer());
	if (body.length > MAX_BODY) {
		return fail(413, 7400, 'request body too large');
	}
	const denied = await verify(request, url, body, secret, env);
	if (denied) {
		return fail(401, 10000, 'd1seal bridge: ' + denied);
	}

	const name = decodeURIComponent(m[1]);
	const db = BINDING.test(name) ? env[name] : undefined;
	if (!db || typeof db.prepare !== 'function' || typeof db.batch !== 'function') {
		return fail(404, 7404, 'd1seal bridge: no D1 binding named ' + JSON.stringify(name.slice(0, 64)));
	}

	let req;
	try {
		req = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
	} catch {
		return fail(400, 7400, 'request body is not JSON');
	}
	const queries = Array.isArray(req?.batch) ? req.batch : [req];
	if (queries.length === 0) {
		return fail(400, 7400, 'No SQL statements detected.');
	}
	for (const q of queries) {
		if (!q || typeof q.sql !== 'string' || (q.params != null && !Array.isArray(q.params))) {
			return fail(400, 7400, 'each statement needs a string sql and an optional params array');
		}
	}

	const constraint = request.headers.get('x-d1seal-session') || undefined;
	let out;
	try {
		out = typeof db.query === 'function' ? await viaQuery(db, queries, constraint) : await viaBatch(db, queries, constraint);
	} catch (e) {
		// D1's own message: SQL errors never hold parameter values.
		const msg = e instanceof Error ? String(e.message) : String(e);
		return fail(400, 7500, msg);
	}

	const raw = m[2] === 'raw';
	const cell = url.searchParams.get('blobs') === 'base64' ? base64Cell : arrayCell;
	const result = out.results.map((r) => ({
		results: raw ? { columns: r.columns, rows: r.rows.map((row) => row.map(cell)) } : toObjects(r.columns, r.rows.map((row) => row.map(cell))),
		success: true,
		meta: r.meta,
	}));
	const headers = { 'content-type': 'application/json' };
	if (constraint && out.bookmark) headers['x-d1seal-bookmark'] = out.bookmark;
	return new Response(JSON.stringify({ result, success: true, errors: [], messages: [] }), { headers });
}

// viaQuery runs the statements through D1Database.query (compatibility flag d1_binding_jsrpc):
// columns in order with duplicates, rows as arrays, meta and the session bookmark in one call.
async function viaQuery(db, queries, bookmark) {
	const req = { queries: queries.map((q) => ({ sql: q.sql, params: (q.params ?? []).map(param) })) };
	if (bookmark) req.bookmark = bookmark;
	let res = await db.query(req);
	// The binding contract is {success, results: {queryResults, bookmark}}; Miniflare answers
	// {results: [...], bookmark}.
	if (res && res.success === false) throw res.error instanceof Error ? res.error : new Error(String(res.error?.message ?? res.error));
	if (res && res.success === true) res = res.results;
	const list = Array.isArray(res.queryResults) ? res.queryResults : res.results;
	return {
		bookmark: res.bookmark,
		results: list.map((r) => ({ columns: r.data.columns, rows: r.data.rows, meta: r.meta })),
	};
}

// viaBatch is the fallback without d1_binding_jsrpc: db.batch answers rows as objects, so a
// duplicate column name keeps its last value and an empty result has no columns.
async function viaBatch(db, queries, constraint) {
	const target = constraint ? db.withSession(constraint) : db;
	const stmts = queries.map((q) => {
		const s = target.prepare(q.sql);
		return q.params && q.params.length ? s.bind(...q.params.map(param).map(bindable)) : s;
	});
	const results = await target.batch(stmts);
	return {
		bookmark: constraint ? target.getBookmark() : undefined,
		results: results.map((r) => {
			const columns = r.results.length ? Object.keys(r.results[0]) : [];
			return { columns, rows: r.results.map((o) => columns.map((c) => o[c])), meta: r.meta };
		}),
	};
}

async function verify(request, url, body, secret, env) {
	const ts = request.headers.get('x-d1seal-timestamp') ?? '';
	const nonce = request.headers.get('x-d1seal-nonce') ?? '';
	const sig = request.headers.get('x-d1seal-signature') ?? '';
	const session = request.headers.get('x-d1seal-session') ?? '';
	if (!ts || !nonce || !sig) return 'unsigned request (X-D1seal-Timestamp, X-D1seal-Nonce and X-D1seal-Signature are required)';
	if (!/^[0-9]{1,12}$/.test(ts)) return 'malformed timestamp';
	if (!NONCE.test(nonce)) return 'malformed nonce';
	if (!/^[0-9a-f]{64}$/.test(sig)) return 'malformed signature';
	const window = Number(env.CLOCK_WINDOW ?? 60) || 60;
	const now = Math.floor(Date.now() / 1000);
	if (Math.abs(now - Number(ts)) > window) return 'timestamp outside the clock window of ' + window + ' seconds (check the client clock)';

	const bodyHash = hex(await crypto.subtle.digest('SHA-256', body));
	const msg = ['d1seal-bridge-v1', request.method, url.pathname + url.search, ts, nonce, session, bodyHash].join('\n');
	const key = await crypto.subtle.importKey('raw', ENC.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
	const ok = await crypto.subtle.verify('HMAC', key, unhex(sig), ENC.encode(msg));
	if (!ok) return 'signature does not verify';

	// Replays: a nonce is remembered until it leaves the clock window.
	for (const [n, until] of seen) {
		if (until > now) break;
		seen.delete(n);
	}
	if (seen.has(nonce)) return 'replayed request (nonce already used)';
	seen.set(nonce, Number(ts) + window + 1);
	return '';
}

// param turns a REST parameter into the binding's: a BLOB is an array of byte values, the
// form D1.query() binds as a BLOB.
function param(p) {
	if (p && typeof p === 'object' && !Array.isArray(p)) {
		if (typeof p.base64 !== 'string') throw new TypeError('a parameter object must be {"base64": "..."}');
		try {
			return Array.from(fromBase64(p.base64));
		} catch {
			throw new TypeError('a {"base64": "..."} parameter is not valid base64');
		}
	}
	return p;
}

function bindable(p) {
	return Array.isArray(p) ? new Uint8Array(p) : p;
}

// blobBytes returns a BLOB result cell's bytes (an array of byte values from D1.query(), an
// ArrayBuffer or a view from the batch API), or undefined for any other value.
function blobBytes(v) {
	if (Array.isArray(v)) return v;
	if (v instanceof ArrayBuffer) return new Uint8Array(v);
	if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
	return undefined;
}

// arrayCell answers a cell as REST does: a BLOB as an array of byte values.
function arrayCell(v) {
	const b = blobBytes(v);
	return b === undefined || Array.isArray(b) ? v : Array.from(b);
}

// base64Cell answers a BLOB cell as {"base64": "..."}.
function base64Cell(v) {
	const b = blobBytes(v);
	return b === undefined ? v : { base64: toBase64(Array.isArray(b) ? Uint8Array.from(b) : b) };
}

// fromBase64 and toBase64 use the runtime's Uint8Array base64 methods where it has them.
function fromBase64(s) {
	if (typeof Uint8Array.fromBase64 === 'function') return Uint8Array.fromBase64(s);
	const bin = atob(s);
	const b = new Uint8Array(bin.length);
	for (let i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
	return b;
}

function toBase64(b) {
	if (typeof b.toBase64 === 'function') return b.toBase64();
	let bin = '';
	for (let i = 0; i < b.length; i += 0x8000) bin += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000));
	return btoa(bin);
}

// toObjects shapes rows as REST /query does: one object per row, the last of duplicate names wins.
function toObjects(columns, rows) {
	return rows.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]])));
}

function fail(status, code, message) {
	return new Response(JSON.stringify({ result: null, success: false, errors: [{ code, message }], messages: [] }), {
		status,
		headers: { 'content-type': 'application/json' },
	});
}

function hex(buf) {
	return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function unhex(s) {
	const b = new Uint8Array(s.length / 2);
	for (let i = 0; i < b.length; i++) b[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
	return b;
}
