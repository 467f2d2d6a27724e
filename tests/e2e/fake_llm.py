"""A fake OpenAI-compatible chat-completions server for the agents' tests
(the one fake the project allows). It answers from a script of canned
replies, one per request, in order.

    from fake_llm import FakeLLM
    with FakeLLM(script) as llm:          # or FakeLLM(script, api_key="k")
        llm.base_url    # "http://127.0.0.1:PORT/v1"
        llm.requests    # the received request JSON bodies, in order

Reply forms (one per POST /v1/chat/completions):
  {"content": "text"}               200; a chat.completion JSON, or, when the
                                    request has "stream": true, SSE
                                    chat.completion.chunk deltas ending with
                                    "data: [DONE]"
  {"status": 500, "body": "..."}    that HTTP status with that body
  {"delay_s": 3, "content": "..."}  sleeps first (any other key still applies)
  {"raw": "not json"}               200 with this raw body
  {"chunk_delay_s": 0.05, "content": ...}  streamed with a pause before
                                    each piece (to watch progress come)
  {"chunked": true, ...}            the body in HTTP/1.1 chunked transfer
                                    coding (as llama.cpp and vLLM stream),
                                    with chunk boundaries at odd places
When the script is exhausted: 500 {"error": "script exhausted"}.

FakeLLM(script, tls=(certfile, keyfile)) serves HTTPS instead (base_url
"https://127.0.0.1:PORT/v1").

GET /v1/models lists one model, "fake-model". With api_key set, a request
without "Authorization: Bearer <api_key>" gets 401 (and is still recorded
in `requests`, with its headers in `headers`, but consumes no reply).

Listens on 127.0.0.1 only; the server runs on a daemon thread and stops on
exit from the `with` block (or close()).
"""

import http.server
import json
import socketserver
import ssl
import threading
import time

MODEL = "fake-model"


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client that gave up (a timeout test) is expected, not news.
        import sys
        if isinstance(sys.exc_info()[1], (BrokenPipeError,
                                          ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep TAP output clean
        pass

    chunked = False

    def _send(self, status, body, ctype="application/json"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if self.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            # uneven pieces: 1, 2, 3... bytes, hex sizes, an extension
            i, n = 0, 1
            while i < len(body):
                self._chunk(body[i:i + n], ext=(n == 2))
                i += n
                n = n % 13 + 1
            self._end_chunks()
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _chunk(self, data, ext=False):
        if data:
            self.wfile.write(b"%x%s\r\n%s\r\n" % (
                len(data), b";x=y" if ext else b"", data))

    def _end_chunks(self):
        self.wfile.write(b"0\r\nX-Trailer: 1\r\n\r\n")
        self.wfile.flush()

    def _write(self, data):
        if self.chunked:  # an event split across two chunks
            self._chunk(data[:len(data) // 3])
            self._chunk(data[len(data) // 3:])
        else:
            self.wfile.write(data)

    def _json(self, status, obj):
        self._send(status, json.dumps(obj))

    def _authorized(self):
        key = self.server.fake.api_key
        if key is None:
            return True
        return self.headers.get("Authorization", "") == "Bearer " + key

    def do_GET(self):
        if self.path.rstrip("/") != "/v1/models":
            return self._json(404, {"error": "no such path"})
        if not self._authorized():
            return self._json(401, {"error": {"message": "bad api key"}})
        self._json(200, {"object": "list", "data": [
            {"id": MODEL, "object": "model", "owned_by": "fake"}]})

    def do_POST(self):
        fake = self.server.fake
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._json(404, {"error": "no such path"})
        try:
            body = json.loads(raw.decode() or "null")
        except ValueError:
            body = None
        fake._record(body, dict(self.headers))
        if not self._authorized():
            return self._json(401, {"error": {"message": "bad api key"}})
        if not isinstance(body, dict):
            return self._json(400, {"error": {"message": "body is not JSON"}})
        reply = fake._next()
        if reply is None:
            return self._json(500, {"error": "script exhausted"})
        self.chunked = bool(reply.get("chunked"))
        if reply.get("delay_s"):
            time.sleep(float(reply["delay_s"]))
        if "status" in reply:
            return self._send(int(reply["status"]), reply.get("body", ""),
                              "text/plain")
        if "raw" in reply:
            return self._send(200, reply["raw"])
        content = reply.get("content", "")
        if body.get("stream"):
            return self._stream(body, content,
                                float(reply.get("chunk_delay_s") or 0))
        self._json(200, {
            "id": "chatcmpl-fake", "object": "chat.completion",
            "created": int(time.time()), "model": body.get("model", MODEL),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant",
                                     "content": content}}],
            "usage": {"prompt_tokens": 1,
                      "completion_tokens": len(content.split()),
                      "total_tokens": 1 + len(content.split())}})

    def _stream(self, body, content, pause):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        if self.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        model = body.get("model", MODEL)

        def chunk(delta, finish=None):
            obj = {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                   "created": int(time.time()), "model": model,
                   "choices": [{"index": 0, "delta": delta,
                                "finish_reason": finish}]}
            self._write(b"data: " + json.dumps(obj).encode() + b"\n\n")
            self.wfile.flush()

        chunk({"role": "assistant", "content": ""})
        # Pieces of 7 characters, split at odd places (inside fences and
        # words) as real servers do: ceil(len / 7) content chunks.
        for i in range(0, len(content), 7):
            if pause:
                time.sleep(pause)
            chunk({"content": content[i:i + 7]})
        chunk({}, "stop")
        self._write(b"data: [DONE]\n\n")
        if self.chunked:
            self._end_chunks()
        self.wfile.flush()


class FakeLLM:
    def __init__(self, script, api_key=None, tls=None):
        self.script = list(script)
        self.api_key = api_key
        self.requests = []
        self.headers = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            self._server.socket = ctx.wrap_socket(self._server.socket,
                                                  server_side=True)
        self.port = self._server.server_address[1]
        self.base_url = "%s://127.0.0.1:%d/v1" % ("https" if tls else "http",
                                                  self.port)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        daemon=True)
        self._thread.start()

    def _record(self, body, headers):
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)

    def _next(self):
        with self._lock:
            return self.script.pop(0) if self.script else None

    def add(self, *replies):
        """Append replies to the script (for a server reused across tests)."""
        with self._lock:
            self.script.extend(replies)

    def close(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
