"""The original's shape, for side-by-side benches: an asyncio unix-socket
NDJSON JSON-RPC server that runs each call with asyncio.to_thread (Python's
default executor, min(32, cores + 4) threads), one request at a time per
connection, like the seed socket_server.py. Standard library only.

    python3 bench/asyncio_baseline.py SOCKET

Methods (the bench fixture's, same costs):
    echo            returns its params
    sleep {ms}      blocks its thread for ms (not CPU)
    spin {ms}       burns CPU for ms of wall-clock time
    cpu {iterations} fixed work
Prints "ready" on stdout once listening; SIGTERM/SIGINT stop it.
"""

import asyncio
import json
import os
import signal
import sys
import time


class UnknownMethod(Exception):
    pass


def dispatch(method, params):
    if method == "echo":
        return params
    if method == "sleep":
        time.sleep(float(params["ms"]) / 1000.0)
        return None
    if method == "spin":
        end = time.perf_counter() + float(params["ms"]) / 1000.0
        while time.perf_counter() < end:
            pass
        return None
    if method == "cpu":
        h = 0x811C9DC5
        for i in range(int(params["iterations"])):
            h = ((h ^ i) * 0x01000193) & 0xFFFFFFFF
        return h
    raise UnknownMethod(method)


def error(req_id, code, message):
    return {"jsonrpc": "2.0", "id": req_id, "error": {"code": code, "message": message}}


async def answer(line):
    try:
        req = json.loads(line)
    except json.JSONDecodeError as e:
        return error(None, -32700, str(e))
    if not isinstance(req, dict) or req.get("jsonrpc") != "2.0" or not isinstance(req.get("method"), str):
        return error(req.get("id") if isinstance(req, dict) else None, -32600, "invalid request")
    req_id = req.get("id")
    try:
        result = await asyncio.to_thread(dispatch, req["method"], req.get("params") or {})
        return {"jsonrpc": "2.0", "id": req_id, "result": result}
    except UnknownMethod as e:
        return error(req_id, -32601, f"unknown method '{e.args[0]}'")
    except KeyError as e:
        return error(req_id, -32602, f"missing required param: {e.args[0]!r}")
    except Exception as e:  # noqa: BLE001
        return error(req_id, -32001, str(e))


async def handle(reader, writer):
    try:
        while not reader.at_eof():
            line = await reader.readline()
            if not line:
                break
            if not line.strip():
                continue
            writer.write((json.dumps(await answer(line)) + "\n").encode("utf-8"))
            await writer.drain()
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        writer.close()


async def main(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    server = await asyncio.start_unix_server(handle, path=path, limit=2**20)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    async with server:
        await stop.wait()
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: asyncio_baseline.py SOCKET")
    asyncio.run(main(sys.argv[1]))
