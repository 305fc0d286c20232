#!/usr/bin/env python3
"""The Chrome JSON export of every library scenario, parsed by DevTools itself.

Chromium bundles its DevTools front end, and with it the trace engine that
the Performance panel draws from (models/trace/trace.js). This test starts
headless Chromium, opens the bundled DevTools page, imports that engine, and
hands it the export of each library scenario's trace (seed 1). For every
trace it asserts what the panel then draws:

  * every flow the file starts ("ph": "s") is bound by the engine, each to
    at least two slices (a flow whose points bind to nothing is not drawn);
  * every thread the file names is a thread of the engine's model with at
    least one slice (a thread with nothing the panel draws is left out);
  * the three processes carry their names: host, guest, hypervisor;
  * the time axis spans the run: the engine's bounds end where the last
    slice ends, in microseconds.

usage: devtools_engine_test.py VMBUS_SIM SOURCE_DIR

Exits 77 (CTest's SKIP_RETURN_CODE for this test) when chromium is not
installed, or when this Chromium's DevTools no longer offers the trace
engine's API this test uses (it is DevTools' internal module, not a public
interface: a newer Chromium may move it; the test then says so and skips
rather than fail on a change of ours that did not happen).

Standard library only: the DevTools protocol is spoken over a WebSocket
client of a few lines below.
"""

import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77


class WebSocket:
    """A minimal client: text frames, no extensions; enough for the DevTools protocol."""

    def __init__(self, url, timeout_s=60):
        assert url.startswith("ws://"), url
        host_port, path = url[len("ws://"):].split("/", 1)
        host, port = host_port.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout_s)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
             f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        buffered = b""
        while b"\r\n\r\n" not in buffered:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("the browser closed the WebSocket handshake")
            buffered += chunk
        head, self.pending = buffered.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"WebSocket handshake refused: {head[:200]!r}")
        self.next_id = 0

    def _read(self, n):
        while len(self.pending) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("the browser closed the WebSocket")
            self.pending += chunk
        data, self.pending = self.pending[:n], self.pending[n:]
        return data

    def send(self, message):
        payload = json.dumps(message).encode()
        header = bytearray([0x81])  # FIN, text
        mask = os.urandom(4)
        if len(payload) < 126:
            header.append(0x80 | len(payload))
        elif len(payload) < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(payload))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes(header) + mask + masked)

    def receive(self):
        message = b""
        while True:
            first, second = self._read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read(8))[0]
            message += self._read(length)
            if first & 0x80:
                return json.loads(message)

    def call(self, method, params=None, session=None):
        self.next_id += 1
        request = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            request["sessionId"] = session
        self.send(request)
        while True:
            reply = self.receive()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]


def fail(text):
    print(f"FAIL: {text}", file=sys.stderr)
    sys.exit(1)


def skip(text):
    print(f"SKIP: {text}")
    sys.exit(SKIP)


def start_chromium(profile):
    process = subprocess.Popen(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    port_file = os.path.join(profile, "DevToolsActivePort")
    for _ in range(600):
        if os.path.exists(port_file):
            lines = open(port_file).read().split("\n")
            if len(lines) >= 2 and lines[1]:
                return process, f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        if process.poll() is not None:
            fail(f"chromium exited with {process.returncode} before it listened")
        time.sleep(0.1)
    fail("chromium did not open its DevTools port within 60 s")


class Engine:
    """DevTools' trace engine inside the bundled DevTools page."""

    def __init__(self, browser):
        self.browser = browser
        target = browser.call("Target.createTarget",
                              {"url": "devtools://devtools/bundled/devtools_app.html"})
        self.session = browser.call("Target.attachToTarget",
                                    {"targetId": target["targetId"], "flatten": True})["sessionId"]
        for _ in range(100):
            if self.evaluate("document.readyState") == "complete":
                break
            time.sleep(0.1)
        loaded = self.evaluate(
            "import('./models/trace/trace.js').then(m => { window.engine = m; "
            "return typeof m.TraceModel?.Model?.createWithAllHandlers === 'function'; })"
            ".catch(e => 'import failed: ' + e)")
        if loaded is not True:
            skip(f"this Chromium's DevTools has no usable trace engine module ({loaded})")

    def evaluate(self, expression):
        result = self.browser.call("Runtime.evaluate",
                                   {"expression": expression, "awaitPromise": True,
                                    "returnByValue": True}, self.session)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise RuntimeError(f"in the DevTools page: {text}")
        return result["result"].get("value")

    def parse(self, trace_events):
        """What the Performance panel's model holds for TRACE_EVENTS."""
        script = """(async (events) => {
          const model = engine.TraceModel.Model.createWithAllHandlers();
          await model.parse(events, {metadata: {}, isFreshRecording: false});
          const parsed = model.parsedTrace(0);
          const threads = [];
          for (const [pid, process] of parsed.data.Renderer.processes)
            for (const [tid, thread] of process.threads)
              threads.push([pid, tid, thread.name, (thread.entries || []).length]);
          const names = {};
          for (const [pid, event] of parsed.data.Meta.processNames) names[pid] = event.args?.name;
          return {flows: parsed.data.Flows.flows.map(flow => flow.length), threads,
                  processes: names, bounds: parsed.data.Meta.traceBounds};
        })(%s)"""
        try:
            return self.evaluate(script % json.dumps(trace_events))
        except RuntimeError as error:
            if "is not a function" in str(error) or "undefined" in str(error):
                skip(f"this Chromium's trace engine changed its model ({error})")
            raise


def check(name, document, model):
    events = document["traceEvents"]
    flow_starts = sum(1 for e in events if e["ph"] == "s")
    if len(model["flows"]) != flow_starts:
        fail(f"{name}: DevTools binds {len(model['flows'])} flows of the {flow_starts} the file starts")
    short = [n for n in model["flows"] if n < 2]
    if short:
        fail(f"{name}: {len(short)} flows bind fewer than two slices")
    named = {(e["pid"], e["tid"]): e["args"]["name"] for e in events
             if e["ph"] == "M" and e["name"] == "thread_name"}
    drawn = {(pid, tid): count for pid, tid, _, count in model["threads"]}
    for key, thread in sorted(named.items()):
        if drawn.get(key, 0) == 0:
            fail(f"{name}: thread '{thread}' (pid {key[0]}, tid {key[1]}) has nothing DevTools draws")
    wanted = {e["pid"]: e["args"]["name"] for e in events
              if e["ph"] == "M" and e["name"] == "process_name"}
    if sorted(wanted.values()) != ["guest", "host", "hypervisor"]:
        fail(f"{name}: the file names processes {sorted(wanted.values())}")
    for pid, process in wanted.items():
        if model["processes"].get(str(pid)) != process:
            fail(f"{name}: DevTools names process {pid} '{model['processes'].get(str(pid))}', "
                 f"not '{process}'")
    last_end = max(e["ts"] + e.get("dur", 0) for e in events if e["ph"] == "X")
    if abs(model["bounds"]["max"] - last_end) > 1e-6:
        fail(f"{name}: DevTools' time axis ends at {model['bounds']['max']} us, "
             f"the last slice at {last_end} us")
    return flow_starts, len(named)


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().split("\n\n")[2], file=sys.stderr)
        return 2
    sim, source_dir = sys.argv[1], sys.argv[2]
    if shutil.which("chromium") is None:
        skip("Debian's chromium is not installed (scripts/install-deps.sh installs it)")
    work = tempfile.mkdtemp(prefix="vmbus-devtools-test.")
    chromium = None
    try:
        traces = os.path.join(work, "traces")
        subprocess.run([sim, "run", "--quiet", "--seeds", "1..1", "--trace-dir", traces,
                        os.path.join(source_dir, "scenarios")], check=True,
                       stdout=subprocess.DEVNULL)
        names = sorted(f for f in os.listdir(traces) if f.endswith(".trace"))
        if len(names) < 30:
            fail(f"the library wrote {len(names)} traces; expected every scenario's")
        chromium, url = start_chromium(os.path.join(work, "profile"))
        engine = Engine(WebSocket(url))
        flows = threads = 0
        for trace in names:
            exported = os.path.join(work, trace + ".json")
            subprocess.run([sim, "trace", "export", "--format=chrome", "-o", exported,
                            os.path.join(traces, trace)], check=True)
            document = json.load(open(exported))
            trace_flows, trace_threads = check(trace, document,
                                               engine.parse(document["traceEvents"]))
            flows += trace_flows
            threads += trace_threads
        print(f"DevTools' trace engine: {len(names)} traces, all {flows} flows bound, "
              f"all {threads} threads drawn")
        return 0
    finally:
        if chromium is not None:
            os.killpg(chromium.pid, signal.SIGKILL)
            chromium.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
