"""The README's examples run as written: the 0.1.x ones verbatim against a stand-in
OpenAI endpoint on 127.0.0.1, and the no-API-key variant on the local embedder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

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
    block = block_containing("sm.register(skill)\n\n# Query skills")
    assert block.strip() in SEED


def test_quick_start_runs_against_an_openai_compatible_endpoint(openai_standin, tmp_path):
    result = run_example(
        block_containing("sm.register(skill)\n\n# Query skills"),
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


SELF_GROWTH_REPLY = {
    "has_knowledge": True,
    "title": "Error handling in async Python",
    "playbook": "1. Run the coroutines with asyncio.gather(*tasks, return_exceptions=True)\n"
                "2. Check every result: exceptions come back as values",
    "examples": "```python\nresults = await asyncio.gather(*tasks, return_exceptions=True)\n```",
    "when_to_use": "Several coroutines run together and one of them may raise.",
    "dependencies": [],
}


def test_self_growth_example_is_verbatim_and_runs(openai_standin, tmp_path):
    import json

    block = block_containing("def extract_knowledge")
    assert block.strip() in SEED
    openai_standin.chat_replies.append(json.dumps(SELF_GROWTH_REPLY))
    code = block + (
        "\nassert draft_id == 'draft::error-handling-in-async-python', draft_id"
        "\nassert [s.status for s in sm.list()] == ['canonical']"
        "\nprint(sm.query('asyncio gather exceptions', budget=500))"
    )
    result = run_example(code, tmp_path, {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": openai_standin.base_url})
    assert result.returncode == 0, result.stderr
    assert "return_exceptions=True" in result.stdout
    chat = [r for r in openai_standin.requests if r["path"] == "/v1/chat/completions"]
    assert chat[0]["body"]["model"] == "gpt-4o"
    assert "How do I handle errors in async Python?" in chat[0]["body"]["messages"][0]["content"]


AGENT_PRELUDE = '''
from openai import OpenAI
from skillvault.models import Skill, Chunk
client = OpenAI()
def embed(text: str) -> list[float]:
    resp = client.embeddings.create(model="text-embedding-3-small", input=[text])
    return resp.data[0].embedding
messages = [{"role": "user", "content": "How do I rebase?"}]
skill = Skill(id="evil", name="Evil", chunks=[Chunk(id="evil::1", content="obey")])
draft_id = "draft::anything"
'''

AGENT_RUNNER = '''
import ast, sys
namespace = {}
exec(PRELUDE, namespace)
for node in ast.parse(BLOCK).body:
    line = ast.get_source_segment(BLOCK, node)
    expect_denied = "raises PermissionError" in BLOCK.splitlines()[node.lineno - 1]
    try:
        exec(compile(ast.Module([node], []), "<readme>", "exec"), namespace)
    except PermissionError:
        assert expect_denied, line
        print("denied:", line)
    else:
        assert not expect_denied, line
        print("ok:", line)
'''


def test_agent_mode_example_is_verbatim_and_behaves_as_commented(openai_standin, tmp_path):
    block = block_containing('mode="agent"')
    assert block.strip() in SEED
    env = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": openai_standin.base_url}
    # a human creates the library first (agents cannot create one)
    setup = run_example(block_containing("sm.register(skill)\n\n# Query skills"), tmp_path, env)
    assert setup.returncode == 0, setup.stderr
    code = f"PRELUDE = {AGENT_PRELUDE!r}\nBLOCK = {block!r}\n" + AGENT_RUNNER
    result = run_example(code, tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert "denied: sm.register(skill)" in result.stdout and "denied: sm.approve(draft_id)" in result.stdout
    assert 'ok: sm.query("...")' in result.stdout and "ok: sm.extract(messages)" in result.stdout


def test_seed_cli_lines_work_on_the_library_the_quick_start_built(openai_standin, tmp_path):
    """The 0.1.x flow: build skills.db in Python with an OpenAI embed_fn, then manage it from
    the CLI, which does not have that Python function."""
    from test_cli_subprocess import run_line

    env = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": openai_standin.base_url}
    built = run_example(block_containing("sm.register(skill)\n\n# Query skills"), tmp_path, env)
    assert built.returncode == 0, built.stderr
    listing = run_line("python -m skillvault.cli list", tmp_path).stdout
    assert "frontend-react" in listing
    run_line("python -m skillvault.cli export frontend-react react.json", tmp_path)
    imported = run_line("python -m skillvault.cli import react.json", tmp_path).stdout
    assert "frontend-react" in imported
    assert "canonical" in run_line("python -m skillvault.cli stats", tmp_path).stdout
