"""Our time over lm-evaluation-harness's, on the same items against the same server, in one run.

    python -m venv ../lmeval-venv && ../lmeval-venv/bin/pip install 'lm-eval[api]'   # once, NOT in our venv
    python benchmarks/vs_lm_eval.py            # N=2000, latency 0.1 s, 32 slots, concurrency 32
    python benchmarks/vs_lm_eval.py --quick    # N=320

Kept out of CI: it needs lm-eval (a large install) in a virtual environment of its own, found at
``--lm-eval`` (default ``../lmeval-venv/bin/lm_eval`` beside the checkout, or ``$LM_EVAL``).

Both tools get the same N generated multiple-choice items (one CSV), the same prompt text, one
output token, and the same number of requests in flight: ``--medhelm-concurrency K`` for us,
``local-chat-completions`` with ``num_concurrent=K`` for lm-eval (its OpenAI-compatible chat
model, via ``--apply_chat_template``). Both start cold: an empty response cache and instance cache
for us; a fresh ``HF_HOME`` (datasets cache) for lm-eval, whose own request cache is off by default.
Each wall time is the whole command. An untimed warm-up run of each fills the bytecode and OS
file caches first. lm-eval runs offline (``HF_HUB_OFFLINE=1``): it loads the CSV with the
``datasets`` package's built-in csv builder and needs no tokenizer (``tokenized_requests=False``).

Exit status: 0 after printing the comparison, 2 when lm-eval is not installed, 3 when it cannot
run here (offline, or a version whose options differ): the message says which.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    REPO,
    YAML,
    Figure,
    Server,
    child_env,
    ideal_s,
    machine,
    pytest_command,  # noqa: E402
    report,
    run,
    write_benchmark,
)

TASK = """\
task: {name}
dataset_path: csv
dataset_kwargs:
  data_files:
    test: {csv}
test_split: test
output_type: generate_until
doc_to_text: {prompt}
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  until: []
  max_gen_toks: 1
  do_sample: false
metric_list:
  - metric: exact_match
"""


def lm_eval_prompt() -> str:
    """Our benchmark's instructions and prompt template, in lm-eval's Jinja syntax (a YAML string)."""
    lines = YAML.format(name="bench", count=0).splitlines()
    instructions = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("instructions:"))
    start = lines.index("prompt: |") + 1
    template = [line.strip() for line in lines[start : start + 6]]
    text = instructions + "\n\n" + "\n".join(template)
    for field in ("question", "option_a", "option_b", "option_c", "option_d"):
        text = text.replace("{" + field + "}", "{{" + field + "}}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=2000, help="items (default 2000)")
    parser.add_argument("--latency", type=float, default=0.1, help="server seconds per request (default 0.1)")
    parser.add_argument("--slots", type=int, default=32, help="requests the server serves at once (default 32)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight for both tools (default 32)")
    parser.add_argument(
        "--lm-eval",
        type=Path,
        default=Path(os.environ.get("LM_EVAL", REPO.parent / "lmeval-venv" / "bin" / "lm_eval")),
        help="the lm_eval executable of its own venv (default ../lmeval-venv/bin/lm_eval or $LM_EVAL)",
    )
    parser.add_argument("--quick", action="store_true", help="N=320")
    args = parser.parse_args(argv)
    count = 320 if args.quick else args.items
    ideal = ideal_s(count, args.slots, args.latency)

    if not args.lm_eval.is_file():
        print(
            f"lm-evaluation-harness is not installed at {args.lm_eval}. Install it in a venv of its own "
            "(never in the project's): python -m venv ../lmeval-venv && ../lmeval-venv/bin/pip install "
            "'lm-eval[api]'; or pass --lm-eval PATH. No comparison was made.",
            file=sys.stderr,
        )
        return 2

    print(machine())
    print(
        f"N={count} items, server latency {args.latency} s, {args.slots} slots, {args.concurrency} requests "
        f"in flight for both tools; ideal = ceil(N/slots)*latency = {ideal:.2f} s"
    )
    with (
        tempfile.TemporaryDirectory(prefix="medhelm-vs-lm-eval-") as tmp,
        Server(latency=args.latency, slots=args.slots) as server,
    ):
        root = Path(tmp)

        def ours(size: int, tag: str) -> tuple[float, dict[str, object]]:
            bench = write_benchmark(root / tag, "bench", size)
            command = pytest_command(
                server.url,
                [bench],
                concurrency=args.concurrency,
                max_instances=size,
                cache=root / f"{tag}.sqlite",
                output=root / f"out-{tag}",
            )
            server.reset()
            result = run(command, cwd=root, env=child_env(MEDHELM_HOME=str(root / f"home-{tag}"))).check()
            return result.wall_s, server.stats()

        def theirs(size: int, tag: str) -> tuple[float, dict[str, object]]:
            folder = root / f"lm-{tag}"
            write_benchmark(folder, "bench", size)
            (folder / "task.yaml").write_text(
                TASK.format(name=f"medhelm_{tag.replace('-', '_')}", csv=folder / "bench.csv", prompt=lm_eval_prompt()),
                encoding="utf-8",
            )
            command = [
                str(args.lm_eval),
                "--model",
                "local-chat-completions",
                "--model_args",
                f"model=bench,base_url={server.url}/chat/completions,num_concurrent={args.concurrency},"
                "max_retries=3,tokenized_requests=False",
                "--tasks",
                f"medhelm_{tag.replace('-', '_')}",
                "--include_path",
                str(folder),
                "--apply_chat_template",
                "--batch_size",
                "1",
            ]
            env = child_env(
                HF_HOME=str(root / f"hf-{tag}"),
                HF_HUB_OFFLINE="1",
                HF_DATASETS_OFFLINE="1",
                TRANSFORMERS_OFFLINE="1",
                TOKENIZERS_PARALLELISM="false",
            )
            server.reset()
            result = run(command, cwd=folder, env=env)
            if result.returncode != 0:
                tail = "\n".join(result.output.splitlines()[-15:])
                raise LmEvalFailed(f"lm-eval exited {result.returncode}:\n{tail}")
            return result.wall_s, server.stats()

        try:
            ours(8, "warmup")
            theirs(8, "warmup")
            our_wall, our_stats = ours(count, "cold")
            their_wall, their_stats = theirs(count, "cold")
        except LmEvalFailed as exc:
            print(
                f"lm-evaluation-harness could not run here (offline, or an incompatible version): {exc}\n"
                "No comparison was made.",
                file=sys.stderr,
            )
            return 3

        def figure(name: str, wall: float, stats: dict[str, object]) -> Figure:
            return Figure(
                name,
                wall,
                "-",
                stats["requests"] == count,
                ideal=ideal,
                extra={
                    "requests": stats["requests"],
                    "peak": stats["peak_in_flight"],
                    "mean in flight": f"{float(stats['mean_in_flight']):.1f}",  # type: ignore[arg-type]
                    "duplicates": stats["duplicates"],
                },
            )

        report(
            [
                figure("pytest-medhelm, cold", our_wall, our_stats),
                figure("lm-evaluation-harness, cold", their_wall, their_stats),
            ]
        )
        print(f"ours / lm-eval = {our_wall / their_wall:.2f}  ({our_wall:.2f} s / {their_wall:.2f} s)")
    return 0


class LmEvalFailed(Exception):
    pass


if __name__ == "__main__":
    sys.exit(main())
