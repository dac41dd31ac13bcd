#!/usr/bin/env python3
"""Actionloop launcher for Python actions run by NEMO's action proxy.

argv: <code dir> <main function name>. The code is <dir>/__main__.py (a zipped action) or <dir>/main__.py
(plain source). Protocol: one JSON request per line on stdin, one JSON result per line on fd 3; {"ok":true}
on fd 3 once the code is loaded when __OW_WAIT_FOR_ACK is set. Output is flushed before each result so the
proxy's sentinels follow the action's own log lines.
"""
import importlib.util
import json
import os
import sys
import traceback


def load(code_dir, main_name):
    sys.path.insert(0, code_dir)
    path = os.path.join(code_dir, "__main__.py")
    if not os.path.exists(path):
        path = os.path.join(code_dir, "main__.py")
    spec = importlib.util.spec_from_file_location("__action__", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fn = getattr(module, main_name, None)
    if not callable(fn):
        raise RuntimeError("the action has no function named %r" % main_name)
    return fn


def main():
    code_dir = sys.argv[1]
    main_name = sys.argv[2] if len(sys.argv) > 2 else "main"
    out = os.fdopen(3, "wb")
    try:
        fn = load(code_dir, main_name)
    except Exception:
        traceback.print_exc()
        sys.stderr.flush()
        sys.exit(1)
    if os.environ.get("__OW_WAIT_FOR_ACK"):
        out.write(b'{"ok":true}\n')
        out.flush()
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline()
        if not line:
            return
        try:
            req = json.loads(line)
        except ValueError as e:
            result = {"error": "launcher: bad request line: %s" % e}
        else:
            for key, value in req.items():
                if key != "value":
                    os.environ["__OW_" + key.upper()] = value if isinstance(value, str) else json.dumps(value)
            try:
                result = fn(req.get("value", {}))
            except Exception as e:
                traceback.print_exc()
                result = {"error": "%s: %s" % (type(e).__name__, e)}
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            data = json.dumps(result, separators=(",", ":")).encode()
        except (TypeError, ValueError):
            data = b"the action result is not serialisable"
        out.write(data + b"\n")
        out.flush()


if __name__ == "__main__":
    main()
