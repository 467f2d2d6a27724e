// An external MCP server written with the official TypeScript SDK, for
// mcpd's bridge tests (tests/e2e/test_mcp_bridge.py). Run with the Node 22
// from node_modules:
//
//   node tools.mjs [--sdk1] [--http PORT]
//
// Default: @modelcontextprotocol/server 2.x on stdio (serves 2026-07-28
// and the handshake revisions). --sdk1: @modelcontextprotocol/sdk 1.x
// (handshake revisions only). --http PORT (with --sdk1): Streamable HTTP
// at http://127.0.0.1:PORT/mcp with sessions, JSON-or-SSE responses.
//
// Tools: add, slow (progress, notices cancellation on stderr), fail
// (isError), pid, add_tool (registers a tool at run time, so the SDK sends
// notifications/tools/list_changed), and "x y" / "x_y" (two names that
// sanitize to the same capability name).
import { z } from "zod";

const args = process.argv.slice(2);
const sdk1 = args.includes("--sdk1");
const httpAt = args.indexOf("--http");
const httpPort = httpAt >= 0 ? Number(args[httpAt + 1]) : 0;

let McpServer, StdioServerTransport, serveStdio;
if (sdk1) {
  ({ McpServer } = await import("@modelcontextprotocol/sdk/server/mcp.js"));
  ({ StdioServerTransport } = await import("@modelcontextprotocol/sdk/server/stdio.js"));
} else {
  ({ McpServer } = await import("@modelcontextprotocol/server"));
  ({ serveStdio } = await import("@modelcontextprotocol/server/stdio"));
}

const log = (msg) => process.stderr.write(`tools.mjs: ${msg}\n`);
const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(new Error("aborted"));
    });
  });

// The two SDKs hand the handler its request context differently.
function reqOf(extra) {
  if (extra?.mcpReq) {
    return {
      token: extra.mcpReq._meta?.progressToken,
      signal: extra.mcpReq.signal,
      notify: (n) => extra.mcpReq.notify(n),
    };
  }
  return {
    token: extra?._meta?.progressToken,
    signal: extra?.signal,
    notify: (n) => extra.sendNotification(n),
  };
}

function build() {
  const server = new McpServer(
    { name: "bridge-test-tools", version: "3.1.4" },
    { capabilities: { tools: { listChanged: true } } },
  );
  const text = (t) => ({ content: [{ type: "text", text: t }] });

  server.registerTool(
    "add",
    {
      title: "Add",
      description: "Adds two numbers.",
      inputSchema: { a: z.number(), b: z.number() },
      outputSchema: { sum: z.number() },
      annotations: { readOnlyHint: true },
    },
    async ({ a, b }) => ({
      content: [{ type: "text", text: String(a + b) }],
      structuredContent: { sum: a + b },
    }),
  );

  server.registerTool(
    "slow",
    {
      description: "Counts to steps, one step every ms, reporting progress.",
      inputSchema: { steps: z.number().int(), ms: z.number().int() },
    },
    async ({ steps, ms }, extra) => {
      const r = reqOf(extra);
      try {
        for (let i = 1; i <= steps; i++) {
          await sleep(ms, r.signal);
          if (r.token !== undefined)
            await r.notify({
              method: "notifications/progress",
              params: { progressToken: r.token, progress: i, total: steps,
                        message: `step ${i}` },
            });
        }
      } catch (e) {
        log("slow: cancelled by the client");
        throw e;
      }
      return text(`counted to ${steps}`);
    },
  );

  server.registerTool(
    "fail",
    { description: "Always an error result.", inputSchema: {} },
    async () => ({ ...text("you asked for an error"), isError: true }),
  );

  server.registerTool(
    "pid",
    { description: "This process's id.", inputSchema: {} },
    async () => ({ ...text(String(process.pid)),
                   structuredContent: { pid: process.pid } }),
  );

  server.registerTool(
    "add_tool",
    {
      description: "Registers a tool named `name` that answers `reply`.",
      inputSchema: { name: z.string(), reply: z.string() },
    },
    async ({ name, reply }) => {
      server.registerTool(name, { description: "Added at run time.",
                                  inputSchema: {} },
                          async () => text(reply));
      log(`added tool ${name}`);
      return text(`added ${name}`);
    },
  );

  // "x y" is not a valid MCP tool name: the SDK warns on stderr, which
  // the bridge logs.
  for (const name of ["x y", "x_y"])
    server.registerTool(name, { description: `The tool "${name}".`,
                                inputSchema: {} },
                        async () => text(name));
  return server;
}

if (httpPort) {
  if (!sdk1) {
    log("--http needs --sdk1");
    process.exit(2);
  }
  const http = await import("node:http");
  const { randomUUID } = await import("node:crypto");
  const { StreamableHTTPServerTransport } = await import(
    "@modelcontextprotocol/sdk/server/streamableHttp.js");
  const sessions = new Map();
  const httpServer = http.createServer(async (req, res) => {
    if (!req.url.startsWith("/mcp")) {
      res.writeHead(404).end();
      return;
    }
    if (req.headers.authorization !== "Bearer s3cret") {
      res.writeHead(401, { "Content-Type": "application/json" })
         .end(JSON.stringify({ error: "bad bearer token" }));
      return;
    }
    const sid = req.headers["mcp-session-id"];
    let transport = sid ? sessions.get(sid) : undefined;
    if (!transport) {
      if (sid) {
        res.writeHead(404).end();
        return;
      }
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => sessions.set(id, transport),
      });
      await build().connect(transport);
    }
    await transport.handleRequest(req, res);
  });
  httpServer.listen(httpPort, "127.0.0.1", () =>
    log(`listening on http://127.0.0.1:${httpPort}/mcp`));
} else if (sdk1) {
  await build().connect(new StdioServerTransport());
} else {
  // Dual-era: a server/discover probe gets a 2026-07-28 instance, an
  // initialize a 2025-era one.
  serveStdio(() => build());
  log(`serving on stdio (pid ${process.pid}, ${sdk1 ? "sdk 1.x" : "server 2.x"})`);
}
