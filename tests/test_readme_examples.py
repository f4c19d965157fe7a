"""The README's examples run as written: the 0.1.x ones verbatim against a stand-in
OpenAI endpoint on 127.0.0.1, and the no-API-key variant on the local embedder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SEED = (Path(__file__).parent / "data" / "seed_README_0.1.2.txt").read_text(encoding="utf-8")


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def block_containing(marker: str) -> str:
    found = [block for block in python_blocks() if marker in block]
    assert len(found) == 1, f"expected one README block with {marker!r}"
    return found[0]


def run_example(code: str, cwd: Path, env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_quick_start_is_the_published_one_verbatim():
    block = block_containing("client = OpenAI()")
    assert block.strip() in SEED


def test_quick_start_runs_against_an_openai_compatible_endpoint(openai_standin, tmp_path):
    result = run_example(
        block_containing("client = OpenAI()"),
        tmp_path,
        {"OPENAI_API_KEY": "sk-test-standin", "OPENAI_BASE_URL": openai_standin.base_url},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('<skill name="frontend-react">\n## useEffect')
    assert "Use useEffect for side effects..." in result.stdout
    bodies = [r["body"] for r in openai_standin.embedding_requests()]
    assert bodies and all(b["model"] == "text-embedding-3-small" for b in bodies)
    assert (tmp_path / "skills.db").exists()


def test_quick_start_without_api_key_uses_the_local_embedder(tmp_path):
    result = run_example(block_containing('SkillManager("local-skills.db")'), tmp_path, {})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('<skill name="frontend-react">\n## useEffect')


def test_readme_starts_with_the_two_setup_commands():
    first_block = re.search(r"```bash\n(.*?)```", README, flags=re.S).group(1).strip().splitlines()
    assert len(first_block) == 2
    assert "python -m skillvault.demo" in first_block[0]
    assert "pytest" in first_block[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert first_block[1] in ci
