"""Store locations printed by the CLI never show a password (a team store URL carries one)."""

import subprocess
import sys
from pathlib import Path

from core import shown_location


def test_a_url_password_is_masked_and_the_rest_kept() -> None:
    url = "postgresql://ava:s3cr3t-Pa55@db.example.com:5432/team?sslmode=require"
    shown = shown_location(url)
    assert "s3cr3t-Pa55" not in shown
    assert shown == "postgresql://ava:***@db.example.com:5432/team?sslmode=require"


def test_a_password_parameter_is_masked() -> None:
    shown = shown_location("postgresql:///team?host=/run/pg&password=hunter2-xyz&user=ava")
    assert "hunter2-xyz" not in shown
    assert "user=ava" in shown


def test_paths_and_urls_without_password_are_unchanged() -> None:
    assert shown_location("/home/ava/memories.db") == "/home/ava/memories.db"
    assert shown_location("postgresql://ava@db/team") == "postgresql://ava@db/team"


def test_doctor_on_an_unreachable_team_store_does_not_print_its_password(tmp_path: Path) -> None:
    url = "postgresql://ava:Zq9-doctor-secret@127.0.0.1:1/team?connect_timeout=2"
    env = {"DEVMEM_ENGINE": "off", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "devmem"), "--db", url, "doctor"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "Zq9-doctor-secret" not in out
    assert "postgresql://ava:***@127.0.0.1:1/team" in out
