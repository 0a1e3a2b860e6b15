"""A page in headless Chromium (Debian's `chromium`), driven over the DevTools protocol: evaluate
JavaScript in it until an answer comes, and take a full-page screenshot. aiohttp (faust's own
dependency) speaks the protocol's WebSocket; nothing else is needed."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import subprocess
import time
from pathlib import Path

import aiohttp

CHROMIUM = "chromium"


class Page:
    def __init__(self, url: str, profile_dir: Path, width: int = 1100, height: int = 900) -> None:
        binary = shutil.which(CHROMIUM)
        if binary is None:
            raise RuntimeError("chromium is not installed (deploy/run-tests.sh installs it: apt-get install chromium)")
        profile_dir.mkdir(parents=True, exist_ok=True)
        self._log = (profile_dir / "chromium.log").open("wb")
        # Root (CI containers) needs --no-sandbox; port 0: Chromium picks one and writes it to
        # DevToolsActivePort in the profile, which is read instead of parsing its stderr.
        self._proc = subprocess.Popen([binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                       "--no-first-run", "--remote-debugging-port=0", f"--user-data-dir={profile_dir}",
                                       f"--window-size={width},{height}", url],
                                      stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self._port_file = profile_dir / "DevToolsActivePort"
        self._ids = itertools.count(1)

    async def _socket_url(self, session: aiohttp.ClientSession, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self._proc.returncode}")
            lines = self._port_file.read_text().split() if self._port_file.exists() else []
            if lines:
                async with session.get(f"http://127.0.0.1:{lines[0]}/json/list") as answer:
                    pages = [t for t in await answer.json() if t["type"] == "page"]
                if pages:
                    return pages[0]["webSocketDebuggerUrl"]
            await asyncio.sleep(0.2)
        raise RuntimeError(f"chromium's DevTools did not answer within {timeout_s} s")

    async def _call(self, ws, method: str, **params) -> dict:
        call_id = next(self._ids)
        await ws.send_str(json.dumps({"id": call_id, "method": method, "params": params}))
        async for message in ws:
            data = json.loads(message.data)
            if data.get("id") == call_id:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                return data["result"]
        raise RuntimeError(f"chromium closed the DevTools socket during {method}")

    async def _run(self, expression: str, screenshot: Path | None, timeout_s: float):
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(await self._socket_url(session, timeout_s), max_msg_size=0) as ws:
                deadline = time.monotonic() + timeout_s
                value = None
                while value is None and time.monotonic() < deadline:
                    result = await self._call(ws, "Runtime.evaluate", expression=expression, returnByValue=True)
                    value = result["result"].get("value")
                    if value is None:
                        await asyncio.sleep(0.2)
                if value is not None and screenshot is not None:
                    size = await self._call(ws, "Runtime.evaluate", returnByValue=True, expression=(
                        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"))
                    width, height = size["result"]["value"]
                    shot = await self._call(ws, "Page.captureScreenshot", format="png", captureBeyondViewport=True,
                                            clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1})
                    screenshot.write_bytes(base64.b64decode(shot["data"]))
                return value

    def wait_for(self, expression: str, *, screenshot: Path | None = None, timeout_s: float = 60.0):
        """The first non-null value of `expression` (evaluated every 0.2 s), then the screenshot;
        None when the time ran out."""
        return asyncio.run(self._run(expression, screenshot, timeout_s))

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._log.close()
