#!/usr/bin/env python
"""``find_skills`` round trips through the MCP server over stdio, and what is left beyond embedding.

Builds a library of synthetic but English-like skills (SKILL.md folders with varied
topics, tools, steps and pitfalls, imported by the real reader) and serves it with
``python -m skillvault.mcp``, driven by the ``mcp`` SDK's own client. The embedder is an
OpenAI-compatible HTTP endpoint (the stand-in of ``tests/standins``, on 127.0.0.1) used
by both the library and the server, so building 2k skills does not take the local
model's ~25 chunks/s. The embedding of each task is timed separately, through the same
embedder, so the table can show the cost of the server and retrieval beyond it::

    PYTHONPATH=src python benchmarks/mcp_latency.py [--skills 2000] [--calls 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))  # the embedding stand-in

TOOLS = ["postgres", "kubernetes", "terraform", "nginx", "redis", "kafka", "docker", "react", "django", "pytest",
         "grafana", "prometheus", "airflow", "spark", "pandas", "celery", "rabbitmq", "elasticsearch", "vault",
         "ansible", "helm", "jenkins", "github actions", "s3", "lambda", "cloudfront", "mysql", "mongodb",
         "webpack", "typescript", "rust", "golang", "java", "gradle", "maven", "pip", "poetry", "conda", "git",
         "ssh", "systemd", "cron", "openssl", "letsencrypt", "pdf forms", "excel workbooks", "slide decks"]
ACTIONS = ["migrate", "debug", "upgrade", "back up", "restore", "monitor", "deploy", "profile", "secure",
           "rotate credentials for", "scale", "tune", "test", "clean up", "document", "benchmark", "roll back"]
OBJECTS = ["a slow query", "the connection pool", "failing health checks", "a memory leak", "flaky tests",
           "expired certificates", "the release branch", "an outage", "disk usage", "cold starts",
           "the staging cluster", "schema changes", "log retention", "rate limits", "build caches"]
STEPS = ["Check the current version and read the changelog for breaking changes.",
         "Take a backup and write down how to restore it before touching anything.",
         "Reproduce the problem on staging with the same configuration as production.",
         "Look at the logs around the first error, not the last one.",
         "Change one setting at a time and measure again after each change.",
         "Run the test suite and the smoke checks before you announce the fix.",
         "Open a pull request that explains the cause, the fix and how it was verified.",
         "Watch the dashboards for an hour after the rollout and keep the rollback ready.",
         "Pin the versions that worked so the next build does not drift.",
         "Write what you learned in the runbook so the next person is faster."]
PITFALLS = ["Restarting hides the evidence; collect logs first.", "Defaults differ between versions.",
            "Timeouts are often set in two places.", "Caches keep serving the old value for a while.",
            "Permissions errors can look like missing files.", "Dry runs do not catch every problem."]


def write_skills(root: Path, count: int, seed: int = 7) -> list[str]:
    """Write ``count`` SKILL.md folders under ``root``; return task texts that fit some of them."""
    rng = random.Random(seed)
    tasks = []
    for i in range(count):
        tool, action, obj = rng.choice(TOOLS), rng.choice(ACTIONS), rng.choice(OBJECTS)
        name = f"{action}-{tool}-{i}".replace(" ", "-")
        steps = "\n".join(f"{n}. {step}" for n, step in enumerate(rng.sample(STEPS, 5), 1))
        pitfalls = "\n".join(f"- {p}" for p in rng.sample(PITFALLS, 2))
        folder = root / name
        folder.mkdir()
        (folder / "SKILL.md").write_text(
            f"---\nname: {name}\ndescription: How to {action} {tool} when you hit {obj}. Use when a task "
            f"mentions {tool} and {obj}.\n---\n# {action.capitalize()} {tool}\n\n"
            f"## When to use\n\nYou work with {tool} and need to {action} it because of {obj}.\n\n"
            f"## Steps\n\n{steps}\n\n## Pitfalls\n\n{pitfalls}\n", encoding="utf-8")
        if i % max(1, count // 200) == 0:
            tasks.append(f"I need to {action} our {tool} setup, we are seeing {obj} since yesterday")
    return tasks


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


async def time_calls(env: dict[str, str], tasks: list[str], budget: int, warmup: int) -> list[float]:
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "skillvault.mcp"], env=env)
    timings = []
    async with Client(params, cache=None) as client:
        for task in tasks[:warmup]:
            await client.call_tool("find_skills", {"task": task, "budget": budget})
        for task in tasks:
            start = time.perf_counter()
            result = await client.call_tool("find_skills", {"task": task, "budget": budget})
            timings.append((time.perf_counter() - start) * 1000)
            if result.is_error:
                raise SystemExit(f"find_skills failed: {result.content[0].text}")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skills", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--budget", type=int, default=2000)
    args = parser.parse_args()

    from standins.openai_server import OpenAIStandIn

    from skillvault import SkillManager
    from skillvault.manager import make_embedder

    with tempfile.TemporaryDirectory() as tmp, OpenAIStandIn(api_key="sk-bench") as endpoint:
        config = {"provider": "openai", "model": "text-embedding-3-small", "base_url": endpoint.base_url,
                  "api_key": "sk-bench"}
        root = Path(tmp) / "skills"
        root.mkdir()
        tasks = write_skills(root, args.skills)
        tasks = [tasks[i % len(tasks)] for i in range(args.calls)]
        db = Path(tmp) / "bench.db"
        start = time.perf_counter()
        with SkillManager(db, embed_config=config) as sm:
            sm.import_(root)
            chunks = sm.stats()["chunks"]
        built = time.perf_counter() - start

        env = {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
               "SKILLVAULT_DB": str(db), "SKILLVAULT_EMBED_MODEL": config["model"],
               "SKILLVAULT_EMBED_BASE_URL": endpoint.base_url, "SKILLVAULT_EMBED_API_KEY": "sk-bench"}
        round_trips = asyncio.run(time_calls(env, tasks, args.budget, warmup=min(10, len(tasks))))

        embedder = make_embedder(None, config)
        embedder.embed(tasks[:5])  # warm the HTTP client
        embeds = []
        for task in tasks:
            start = time.perf_counter()
            embedder.embed([task])
            embeds.append((time.perf_counter() - start) * 1000)

    beyond = [rt - em for rt, em in zip(round_trips, embeds)]
    print(f"{args.skills} skills, {chunks} chunks (built in {built:.1f} s), {len(tasks)} find_skills calls over "
          f"stdio, budget {args.budget}")
    print(f"{'':28}{'p50 ms':>10}{'p95 ms':>10}")
    for label, values in (("round trip", round_trips), ("embedding of the task", embeds),
                          ("beyond embedding", beyond)):
        print(f"{label:28}{statistics.median(values):10.1f}{percentile(values, 0.95):10.1f}")
    print("target: beyond-embedding p50 <= 30 ms")


if __name__ == "__main__":
    main()
