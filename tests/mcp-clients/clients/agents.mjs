// The five code agents chained through MCP by a real client, driven by
// tests/e2e/test_agents_mcp.py:
//
//   node agents.mjs --url http://127.0.0.1:PORT/mcp --spec JSON
//
// @modelcontextprotocol/sdk 1.x over Streamable HTTP. After tools/list
// (which also arms the SDK's check of every structuredContent against the
// tool's outputSchema), each chain in the spec runs, through tools/call
// only, with the files flowing from one step to the next:
//
//   code.generate (template backend, code and tests)
//   code.test      on the generated files
//   code.analyze   on them
//   security.scan  on them
//   code.refactor  on them, once per entry of "refactor" in turn (its own
//                  verification runs the tests)
//   code.test      on the refactored files
//
// spec: {"chains": [{"label", "generate": {...arguments},
//                    "test": {...arguments but files},
//                    "refactor": [{...arguments but files}, ...]}],
//        "calls": [{"event", "name", "arguments"}]}
// Each outcome is one JSON line on stdout: {"event": "<label>.<step>",
// "isError", "structured", "text", "task"} with the mcpd task id from the
// result's _meta. A failed code.generate or code.refactor ends its chain
// (the later steps need its files).

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

// A sandboxed build and test run may take a while on a loaded machine;
// progress notifications also reset the clock.
const CALL_TIMEOUT_MS = Number(args.timeout_ms || 180000);

async function main() {
	const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
	const { StreamableHTTPClientTransport } =
		await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
	const spec = JSON.parse(args.spec);

	const client = new Client({ name: 'mcpd-e2e-agents', version: '1.0.0' },
	                          { capabilities: {} });
	const transport = new StreamableHTTPClientTransport(new URL(args.url));
	await client.connect(transport).catch((e) => fail('connect', e));
	out({ event: 'connected', version: transport.protocolVersion ?? null,
	      server: client.getServerVersion()?.name ?? null });

	const tools = await client.listTools().catch((e) => fail('list', e));
	out({ event: 'tools', tools: tools.tools.map((t) => ({
		name: t.name,
		has_output_schema: !!t.outputSchema,
	})).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0) });

	// One tools/call; the line it reports; the structured result or null.
	async function step(event, name, argumentsObj) {
		let progress = 0;
		const opts = {
			timeout: CALL_TIMEOUT_MS,
			resetTimeoutOnProgress: true,
			onprogress: () => { progress++; },
		};
		let r;
		try {
			// 1.x takes a result schema before the options.
			r = await client.callTool({ name, arguments: argumentsObj },
			                          undefined, opts);
		} catch (e) {
			// A JSON-RPC error, or structuredContent that does not
			// match the tool's outputSchema.
			out({ event, rejected: true, message: String(e?.message ?? e) });
			return null;
		}
		const text = (r.content || []).filter((c) => c.type === 'text')
			.map((c) => c.text).join('\n');
		out({ event, isError: r.isError ?? false,
		      structured: r.structuredContent ?? null,
		      text: r.isError ? text : null,
		      task: r._meta?.['dev.mcpd/task'] ?? null, progress });
		return r.isError ? null : r.structuredContent ?? null;
	}

	for (const chain of spec.chains) {
		const L = chain.label;
		const gen = await step(`${L}.generate`, 'code.generate', chain.generate);
		if (!gen)
			continue;
		const files = gen.files;
		await step(`${L}.test`, 'code.test', { ...chain.test, files });
		await step(`${L}.analyze`, 'code.analyze', { files });
		await step(`${L}.scan`, 'security.scan', { files });
		// Refactors one after another, each on the files the last left.
		let now = files;
		for (const [i, op] of chain.refactor.entries()) {
			const ref = await step(`${L}.refactor.${i}`, 'code.refactor',
			                       { ...op, files: now });
			now = ref ? ref.files : null;
			if (!now)
				break;
		}
		if (now)
			await step(`${L}.retest`, 'code.test', { ...chain.test, files: now });
	}

	// Single calls after the chains (e.g. bad input the tool must refuse).
	for (const c of spec.calls || [])
		await step(c.event, c.name, c.arguments);

	await client.close().catch(() => {});
	out({ event: 'done' });
	process.exit(0);
}

main().catch((e) => fail('main', e));
