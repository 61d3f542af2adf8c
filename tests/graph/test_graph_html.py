"""The graph picture in headless Chromium (Debian's `chromium`): it loads offline with no
console message, shows every entity, opens an entity's memories, and a screenshot is made.

Chromium is driven through its command line: ``--dump-dom`` for the DOM after the page's
script ran, ``--screenshot`` for the picture, ``--enable-logging=stderr`` for console
messages (each one is a failure: the page logs nothing when all is well).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from core import graph_view
from core.models import MemoryInput
from core.service import MemoryService

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
    "--window-size=1200,800",
]
TECH = ["Kubernetes", "Postgres", "Redis", "Kafka", "Terraform", "Django", "React", "Nginx"]
PEOPLE = [
    "Ada Lovelace <ada@acme.io>",
    "Grace Hopper <grace@acme.io>",
    "Linus T <linus@contoso.com>",
]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "Headless Chromium is needed to test the graph picture: install it with "
        "`apt-get install -y chromium` (.ci/run does).",
        pytrace=False,
    )


def chromium(tmp_path: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"chromium-profile-{uuid.uuid4().hex[:8]}"
    return subprocess.run(
        [chromium_path(), *FLAGS, f"--user-data-dir={profile}", *extra, url],
        capture_output=True,
        text=True,
        timeout=180,
    )


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def js_errors(dom: str) -> str | None:
    """What the page's own error hook recorded on <html data-js-errors> (None: nothing)."""
    root = re.search(r"<html([^>]*)>", dom)
    found = re.search(r'data-js-errors="([^"]*)"', root.group(1) if root else "")
    return found.group(1) if found else None


def body_data(dom: str) -> dict[str, str]:
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    return dict(re.findall(r'data-([\w-]+)="([^"]*)"', body.group(1)))


@pytest.fixture
def page(svc: MemoryService, tmp_path: Path) -> tuple[Path, graph_view.Picture]:
    inputs = []
    for i in range(36):
        a, b = TECH[i % len(TECH)], TECH[(i * 3 + 1) % len(TECH)]
        if i % 3 == 0:
            inputs.append(
                MemoryInput(
                    f"Ops sync {i}: move {a} next to {b}",
                    kind="meeting",
                    metadata={"subject": f"Ops sync {i % 4}", "attendees": PEOPLE[: 2 + i % 2]},
                )
            )
        else:
            inputs.append(MemoryInput(f"We use {a} with {b} in src/svc_{i % 5}/main.py (note {i})"))
    svc.remember_many(inputs)
    path = tmp_path / "graph.html"
    return path, graph_view.write(svc.store, path)


def test_the_error_checks_see_a_broken_page(
    page: tuple[Path, graph_view.Picture], tmp_path: Path
) -> None:
    path, _ = page
    broken = tmp_path / "broken.html"
    broken.write_text(
        path.read_text(encoding="utf-8").replace(
            "</body>", "<script>undefinedFunction();</script></body>"
        ),
        encoding="utf-8",
    )
    proc = chromium(tmp_path, broken.as_uri(), "--dump-dom")
    assert any("Uncaught" in m for m in console_messages(proc.stderr)), proc.stderr[-2000:]
    assert "undefinedFunction" in (js_errors(proc.stdout) or "")


def test_page_loads_offline_without_errors_and_shows_every_entity(
    page: tuple[Path, graph_view.Picture], tmp_path: Path
) -> None:
    path, picture = page
    assert picture.nodes > 10 and picture.edges > 10
    proc = chromium(tmp_path, path.as_uri(), "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert console_messages(proc.stderr) == []
    assert js_errors(proc.stdout) is None
    data = body_data(proc.stdout)
    assert data["ready"] == "true"
    assert int(data["node-count"]) == picture.nodes and int(data["edge-count"]) == picture.edges
    assert f"{picture.nodes} entities · {picture.edges} relations" in proc.stdout


def test_selecting_an_entity_lists_its_memories_and_search_finds_it(
    page: tuple[Path, graph_view.Picture], tmp_path: Path
) -> None:
    path, _ = page
    proc = chromium(tmp_path, path.as_uri() + "#select=Redis&search=kube", "--dump-dom")
    assert console_messages(proc.stderr) == []
    details = proc.stdout.split('id="details"', 1)[1].split("</section>", 1)[0]
    assert "<h2>Redis</h2>" in details and "Latest memories" in details
    assert re.search(r"We use \w+ with \w+ in src/svc_\d/main\.py \(note \d+\)", details)
    results = proc.stdout.split('id="results"', 1)[1].split("</ul>", 1)[0]
    assert "Kubernetes" in results and body_data(proc.stdout)["matches"] == "1"


def test_hostile_titles_stay_text(svc: MemoryService, tmp_path: Path) -> None:
    svc.remember(
        MemoryInput("Kubernetes and Redis", title="</script><img src=x onerror=alert(1)> & <!--")
    )
    path = tmp_path / "hostile.html"
    picture = graph_view.write(svc.store, path)
    proc = chromium(tmp_path, path.as_uri() + "#select=Redis", "--dump-dom")
    assert console_messages(proc.stderr) == [] and js_errors(proc.stdout) is None
    assert int(body_data(proc.stdout)["node-count"]) == picture.nodes
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &lt;!--" in proc.stdout


def test_screenshot(
    page: tuple[Path, graph_view.Picture], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = page
    png = tmp_path / "graph.png"
    proc = chromium(tmp_path, path.as_uri(), f"--screenshot={png}")
    assert console_messages(proc.stderr) == []
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000  # a blank 1200×800 page is a few kilobytes
    with capsys.disabled():
        print(f"\n  graph picture screenshot: {png}")
