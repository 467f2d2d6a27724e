// One MCP client session against mcpd, driven by tests/e2e/test_mcp_clients.py.
//
//   node scenario.mjs --sdk v1|v2 --transport http --url URL
//   node scenario.mjs --sdk v1|v2 --transport stdio --cmd JSON_ARGV
//
// v1 is @modelcontextprotocol/sdk 1.x (the 2025-11-25 handshake era), v2 is
// @modelcontextprotocol/client 2.x pinned to 2026-07-28 (stateless era).
// Steps: list tools, call echo, call sleep with progress, cancel a long
// sleep after its first progress, then wait for tools/list_changed after
// the test reloads the daemon. Each outcome is one JSON line on stdout;
// {"event":"await_reload"} asks the test to reload. Over stdio, mcpd's
// stderr is read for the HTTP port it also listens on ({"event":"port"}),
// so the test can look at tasks over REST.

import { setTimeout as delay } from 'node:timers/promises';

const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2)
	args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];

function out(obj) {
	process.stdout.write(JSON.stringify(obj) + '\n');
}

function fail(step, err) {
	out({ event: 'error', step, message: String(err && err.stack || err) });
	process.exit(1);
}

const LIST_CHANGED_WAIT_MS = Number(args.wait_ms || 20000);
// The long sleep to cancel; the test finds its task by this total.
const CANCEL_MS = Number(args.cancel_ms || 29999);

async function load() {
	if (args.sdk === 'v1') {
		const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
		const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
		const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
		const types = await import('@modelcontextprotocol/sdk/types.js');
		return { Client, StdioClientTransport, StreamableHTTPClientTransport, types };
	}
	const mod = await import('@modelcontextprotocol/client');
	const { StdioClientTransport } = await import('@modelcontextprotocol/client/stdio');
	return { Client: mod.Client, StdioClientTransport,
	         StreamableHTTPClientTransport: mod.StreamableHTTPClientTransport };
}

// The port from mcpd's "listening on http://127.0.0.1:PORT" line.
function watchPort(stream) {
	let buf = '';
	let reported = false;
	stream.on('data', (chunk) => {
		buf += chunk.toString();
		const m = !reported && buf.match(/listening on http:\/\/[^:\s]+:(\d+)/);
		if (m) {
			reported = true;
			out({ event: 'port', port: Number(m[1]) });
		}
		if (buf.length > 65536)
			buf = buf.slice(-4096);
	});
}

async function main() {
	const lib = await load().catch((e) => fail('load', e));
	let changed = 0;
	let onChanged = null;
	const note = () => {
		changed++;
		if (onChanged)
			onChanged();
	};
	const options = { capabilities: {} };
	if (args.sdk === 'v2') {
		options.versionNegotiation = { mode: { pin: '2026-07-28' } };
		options.listChanged = { tools: { autoRefresh: false, debounceMs: 0,
		                                 onChanged: () => note() } };
	}
	const client = new lib.Client({ name: `mcpd-e2e-${args.sdk}`, version: '1.0.0' }, options);
	if (args.sdk === 'v1')
		client.setNotificationHandler(lib.types.ToolListChangedNotificationSchema, () => note());

	let transport;
	if (args.transport === 'stdio') {
		const argv = JSON.parse(args.cmd);
		transport = new lib.StdioClientTransport({ command: argv[0], args: argv.slice(1),
		                                           env: process.env, stderr: 'pipe' });
		if (transport.stderr)
			watchPort(transport.stderr);
	} else {
		transport = new lib.StreamableHTTPClientTransport(new URL(args.url));
	}
	await client.connect(transport).catch((e) => fail('connect', e));
	const version = client.getNegotiatedProtocolVersion ? client.getNegotiatedProtocolVersion()
	                                                    : transport.protocolVersion;
	out({ event: 'connected', version: version ?? null,
	      server: client.getServerVersion()?.name ?? null });

	// 1.x takes a result schema before the options; 2.x does not.
	const call = (params, opts) => args.sdk === 'v1' ? client.callTool(params, undefined, opts)
	                                                 : client.callTool(params, opts);

	const tools = await client.listTools().catch((e) => fail('list', e));
	out({ event: 'tools', names: tools.tools.map((t) => t.name).sort() });

	const echo = await call({ name: 'echo', arguments: { greeting: 'hello', n: 3 } })
		.catch((e) => fail('echo', e));
	out({ event: 'echo', isError: echo.isError ?? false, structured: echo.structuredContent ?? null,
	      text: echo.content?.[0]?.text ?? null });

	const progress = [];
	const slept = await call({ name: 'sleep', arguments: { ms: 600 } }, {
		onprogress: (p) => progress.push(p.progress),
		timeout: 30000,
	}).catch((e) => fail('sleep', e));
	out({ event: 'sleep', isError: slept.isError ?? false, structured: slept.structuredContent ?? null,
	      progress });

	// Cancel a long sleep once it is running (its first progress).
	const ac = new AbortController();
	let sawProgress = 0;
	const cancelled = await call({ name: 'sleep', arguments: { ms: CANCEL_MS } }, {
		signal: ac.signal,
		timeout: 60000,
		onprogress: () => {
			if (sawProgress++ === 0)
				ac.abort('the test cancels it');
		},
	}).then((r) => ({ settled: 'resolved', result: r }), (e) => ({ settled: 'rejected', name: e?.name,
	                                                                message: String(e?.message ?? e) }));
	out({ event: 'cancel', progress_seen: sawProgress, ...cancelled });

	// tools/list_changed (legacy) or subscriptions/listen (modern).
	changed = 0;
	const seen = new Promise((resolve) => {
		onChanged = resolve;
	});
	out({ event: 'await_reload' });
	const got = await Promise.race([seen.then(() => true), delay(LIST_CHANGED_WAIT_MS).then(() => false)]);
	let after = null;
	if (got) {
		const list = await client.listTools().catch((e) => fail('list2', e));
		after = list.tools.map((t) => t.name).sort();
	}
	out({ event: 'list_changed', seen: got, names: after });

	await client.close().catch(() => {});
	out({ event: 'done' });
	process.exit(0);
}

main().catch((e) => fail('main', e));
