"""ACI-Bench: write the clinical note of a visit from the doctor-patient conversation.

HELM evaluates the three test files of the challenge release (120 encounters); the training file
is never sampled. The input is the dialogue under HELM's one-line header (read from its scenario).
"""

from pytest_medhelm import Benchmark, Fetcher, Instance, Prompt, Record, Source, helm

BASE = (
    "https://raw.githubusercontent.com/wyim/aci-bench/"
    "e75b383172195414a7a68843ec4876e83e5409f7/data/challenge_data_json/"
)
TEST_FILES = ("clinicalnlp_taskB_test1_full.json", "clef_taskC_test3_full.json", "clinicalnlp_taskC_test2_full.json")


def fetch(fetcher: Fetcher) -> list[Record]:
    return [{**entry, "_source_file": name} for name in TEST_FILES for entry in fetcher.json(BASE + name)["data"]]


def to_instance(record: Record) -> Instance:
    template = helm.scenario_value("aci_bench_scenario", "ACIBenchScenario.process_json", "input_text")
    # Our wording without HELM's package.
    text = template.fill(dialogue=record["src"]) if template is not None else f"Visit transcript:\n\n{record['src']}"
    return Instance(id=record["file"], input=text, reference=record["tgt"])


BENCHMARK = Benchmark(
    id="aci_bench",
    name="ACI-Bench",
    access="public",
    source=Source(upstream=BASE, how_to_get="Public (CC BY 4.0).", fetch=fetch),
    to_instance=to_instance,
    helm_prompt="aci_bench",
    prompt=Prompt(
        instructions="Write the clinical note of this visit from the conversation, in four sections:\n"
        "1. HISTORY OF PRESENT ILLNESS\n2. PHYSICAL EXAM\n3. RESULTS\n4. ASSESSMENT AND PLAN\n\n"
        "The conversation follows.",
        input_noun="Conversation",
        output_noun="Clinical Note",
    ),
    open_ended=True,
    max_tokens=768,
)
