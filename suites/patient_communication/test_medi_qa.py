"""MEDIQA 2019 (task 3, question answering): answer a consumer health question.

HELM loads Hugging Face ``bigbio/mediqa_qa`` at revision 9288641; that revision is only a loading
script, which downloads the MEDIQA2019 repository's master zip and parses the labelled test XML
(150 questions). We read the same XML file at a pinned commit and build the script's records
(``{"QUESTION": {"QID", "QuestionText", "AnswerList": [{"Answer": {...}}]}}``). Quirk kept: the gold
is the FIRST listed answer with ReferenceRank 1, and the empty string when no answer has rank 1.
"""

import xml.etree.ElementTree as ET

from pytest_medhelm import Benchmark, DataError, Fetcher, Instance, Prompt, Record, Source

URL = (
    "https://raw.githubusercontent.com/abachaa/MEDIQA2019/ae5d3826d6c841923b9db831159fef0f1b893593/"
    "MEDIQA_Task3_QA/MEDIQA2019-Task3-QA-TestSet-wLabels.xml"
)


def _answer(node: ET.Element) -> Record:
    ranks = {key: int(node.attrib[key]) for key in ("SystemRank", "ReferenceRank", "ReferenceScore")}
    return {
        "Answer": {
            "AID": node.attrib["AID"],
            **ranks,
            "AnswerURL": node.findtext("AnswerURL"),
            "AnswerText": node.findtext("AnswerText"),
        }
    }


def fetch(fetcher: Fetcher) -> list[Record]:
    path = fetcher.url(URL)
    try:
        return [
            {
                "QUESTION": {
                    "QID": q.attrib["QID"],
                    "QuestionText": q.findtext("QuestionText"),
                    "AnswerList": [_answer(a) for a in q.iterfind("AnswerList/Answer")],
                }
            }
            for q in ET.parse(path).getroot().iterfind("Question")
        ]
    except (ET.ParseError, KeyError, ValueError) as exc:
        raise DataError(f"not the MEDIQA test XML ({type(exc).__name__}: {exc})", file=path) from None


def to_instance(record: Record) -> Instance:
    question = record["QUESTION"]
    gold = next((a["Answer"]["AnswerText"] for a in question["AnswerList"] if a["Answer"]["ReferenceRank"] == 1), "")
    return Instance(id=str(question["QID"]), input=question["QuestionText"], reference=gold or "")


BENCHMARK = Benchmark(
    id="medi_qa",
    name="MEDIQA",
    access="public",
    source=Source(upstream=URL, how_to_get="Public (no licence stated).", fetch=fetch),
    to_instance=to_instance,
    helm_prompt="medi_qa",
    prompt=Prompt(instructions="Answer this consumer health question.", input_noun="Question", output_noun="Answer"),
    open_ended=True,
    max_tokens=1024,
)
