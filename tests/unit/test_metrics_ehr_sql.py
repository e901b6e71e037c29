"""EHRSQL execution metrics (spec §2.4) on a tiny real SQLite database."""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import threading
from pathlib import Path

import pytest

from pytest_medhelm.metrics import ehr_sql as mod
from pytest_medhelm.metrics.ehr_sql import NO_QUERY_ERROR, ehr_sql, execute, extract_sql, gold_result

ACC = "ehr_sql_execution_accuracy"
VALID = "ehr_sql_query_validity"
PREC = "ehr_sql_precision_answerable"
REC = "ehr_sql_recall_answerable"
FIXED = "ehr_sql_execution_accuracy_corrected"
KEYS = {ACC, VALID, PREC, REC, FIXED}

GOLD_AGES = "select patient.age from patient where patient.ward = 'icu'"  # -> (70,), (55,), (70,)
GOLD_EMPTY = "select lab.result from lab where lab.name = 'folate'"  # no such lab -> []


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "toy.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        create table patient (pid integer primary key, uniquepid text, ward text, age integer, weight real);
        insert into patient values (1, '001-1', 'icu', 70, 80.5), (2, '001-2', 'icu', 55, NULL),
                                   (3, '001-3', 'er', 40, 60.0), (4, '001-4', 'icu', 70, 75.0);
        create table lab (lid integer primary key, pid integer, name text, result real);
        insert into lab values (1, 1, 'sodium', 140.0), (2, 1, 'sodium', 138.0), (3, 2, 'potassium', 4.1);
        """
    )
    conn.commit()
    conn.close()
    return path


def score(db: Path, output: str, gold_sql: str = GOLD_AGES, values: dict | None = None, impossible: bool = False, **kw):
    result = ehr_sql(output, gold_sql, values if values is not None else {}, impossible, db, **kw)
    assert set(result) == KEYS
    return result


# ---------------------------------------------------------------------------- extract_sql
@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("select 1", "select 1"),
        ("  select 1 ;\n", "select 1 ;"),
        ("Here you go: <sql> select 1 </sql> hope it helps", "select 1"),
        ("<SQL>select 1</SQL>", "select 1"),
        ("< sql >select 1</ sql >", "select 1"),  # spaces inside the tags are allowed...
        ("<sql>select 1< /sql>", "<sql>select 1< /sql>"),  # ...but not between "<" and "/"
        ("<sql>select 1<sql>", "select 1"),  # the closing slash is optional
        ("<sql>a</sql><sql>b</sql>", "a"),  # first block, non-greedy
        ("```sql\nselect 1\n```", "select 1"),
        ("```\nselect 1\n```", "select 1"),
        ("`select` 1", "select 1"),
        ("```SQL\nselect 1\n```", "SQL\nselect 1"),  # upper-case language tag is kept
        ("```sql```", "sql"),  # no newline after the tag once stripped -> bare word remains
        ("select 1\nsql\nfrom x", "select 1\nfrom x"),  # a "sql" line anywhere is dropped
        ("```", ""),
        ("", ""),
        ("<sql></sql>", ""),
    ],
)
def test_extract_sql(output: str, expected: str) -> None:
    assert extract_sql(output) == expected


# ---------------------------------------------------------------------------- execute
def test_execute_returns_rows(db: Path) -> None:
    assert execute(db, "select pid from patient order by pid") == ([(1,), (2,), (3,), (4,)], None)
    assert execute(str(db), "select 1;") == ([(1,)], None)


def test_execute_errors_are_returned_not_raised(db: Path) -> None:
    rows, error = execute(db, "select * from nope")
    assert rows == [] and "no such table" in error
    rows, error = execute(db, "null")
    assert rows == [] and "syntax error" in error
    rows, error = execute(db, "select 1; select 2")
    assert rows == [] and "one statement" in error
    assert execute(db, "") == ([], NO_QUERY_ERROR)
    assert execute(db, "  \n") == ([], NO_QUERY_ERROR)
    rows, error = execute(db, "select 'a\x00b'")
    assert rows == [] and error


def test_execute_missing_database(tmp_path: Path) -> None:
    rows, error = execute(tmp_path / "absent.sqlite", "select 1")
    assert rows == [] and error
    assert not (tmp_path / "absent.sqlite").exists()  # read-only mode never creates the file


def test_execute_is_read_only(db: Path) -> None:
    rows, error = execute(db, "drop table patient")
    assert rows == [] and error == "not authorized"
    rows, error = execute(db, "delete from patient")
    assert error is not None
    assert execute(db, "select count(*) from patient") == ([(4,)], None)


def test_execute_refuses_attach(db: Path, tmp_path: Path) -> None:
    rows, error = execute(db, f"attach database '{tmp_path / 'other.sqlite'}' as other")
    assert rows == [] and "not authorized" in error
    assert not (tmp_path / "other.sqlite").exists()


def test_execute_path_with_special_characters(tmp_path: Path, db: Path) -> None:
    odd = tmp_path / "dir with space#and?query" / "db%20.sqlite"
    odd.parent.mkdir()
    odd.write_bytes(db.read_bytes())
    assert execute(odd, "select count(*) from lab") == ([(3,)], None)


RUNAWAY = "with recursive r(x) as (select 1 union all select x + 1 from r) select count(*) from r"


def test_runaway_query_hits_step_budget(db: Path) -> None:
    rows, error = execute(db, RUNAWAY, max_steps=200_000)
    assert rows == [] and error.startswith("query budget exceeded") and "steps" in error


def test_runaway_query_hits_time_budget(db: Path) -> None:
    rows, error = execute(db, RUNAWAY, max_steps=10**15, timeout_s=0.05)
    assert rows == [] and error.startswith("query budget exceeded") and " s" in error


def test_huge_result_hits_row_budget(db: Path) -> None:
    sql = "with recursive r(x) as (select 1 union all select x + 1 from r limit 50000) select x from r"
    assert len(execute(db, sql)[0]) == 50_000
    rows, error = execute(db, sql, max_rows=1_000)
    assert rows == [] and "rows" in error


def test_default_budget_stops_a_real_runaway(db: Path) -> None:
    rows, error = execute(db, RUNAWAY)
    assert rows == [] and error.startswith("query budget exceeded")


# ---------------------------------------------------------------------------- gold_result
def test_gold_result_rows(db: Path) -> None:
    assert gold_result(db, "  " + GOLD_AGES + "  ", {"ward": "icu"}) == [(70,), (55,), (70,)]


def test_gold_result_falls_back_to_slot_values_as_strings(db: Path) -> None:
    assert gold_result(db, GOLD_EMPTY, {"lab_name": "folate", "n": "2"}) == ["folate", "2"]


def test_gold_result_failed_gold_query_falls_back(db: Path) -> None:
    assert gold_result(db, "select nope from patient", {"x": "y"}) == ["y"]
    assert gold_result(db, "null", None) == []  # unanswerable items have no value dict
    assert gold_result(db, GOLD_EMPTY, {}) == []


def test_gold_result_cast_branch(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The re-execution returning a row never happens with a deterministic query, so simulate it:
    # first call -> no rows, second -> a row; values are cast to that row's column types.
    answers = iter([([], None), ([(7, 1.5, "x")], None)])
    monkeypatch.setattr(mod, "execute", lambda *a, **k: next(answers))
    assert gold_result(db, "select ...", {"a": "3", "b": "2", "c": 4}) == [3, 2.0, "4"]


def test_gold_result_cast_failure_keeps_values(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([([], None), ([(7,)], None)])
    monkeypatch.setattr(mod, "execute", lambda *a, **k: next(answers))
    assert gold_result(db, "select ...", {"a": "not a number"}) == ["not a number"]


# ---------------------------------------------------------------------------- execution accuracy
def test_exact_gold_query_scores(db: Path) -> None:
    assert score(db, GOLD_AGES) == {ACC: 1.0, VALID: 1.0, PREC: 1.0, REC: 1.0, FIXED: 1.0}


def test_set_comparison_ignores_order_and_duplicates(db: Path) -> None:
    # Gold rows (70,), (55,), (70,); the prediction is distinct and reversed.
    assert score(db, "select distinct age from patient where ward = 'icu' order by age")[ACC] == 1.0
    assert score(db, "select age from patient where ward = 'icu' union all select 55")[ACC] == 1.0


def test_int_equals_float(db: Path) -> None:
    assert score(db, "select cast(age as real) from patient where ward = 'icu'")[ACC] == 1.0


def test_no_tolerance_and_type_strictness(db: Path) -> None:
    assert score(db, "select age + 0.0000001 from patient where ward = 'icu'")[ACC] == 0.0
    assert score(db, "select cast(age as text) from patient where ward = 'icu'")[ACC] == 0.0


def test_null_rows_compare_equal(db: Path) -> None:
    gold = "select weight from patient where pid = 2"
    assert score(db, "select null", gold_sql=gold)[ACC] == 1.0


def test_wrong_rows(db: Path) -> None:
    assert score(db, "select age from patient") == {ACC: 0.0, VALID: 1.0, PREC: 1.0, REC: 1.0, FIXED: 0.0}


def test_sql_inside_tags_and_fences(db: Path) -> None:
    assert score(db, f"Sure!\n<sql>{GOLD_AGES}</sql>")[ACC] == 1.0
    assert score(db, f"```sql\n{GOLD_AGES};\n```")[ACC] == 1.0


def test_query_error_gives_validity_zero(db: Path) -> None:
    assert score(db, "select age from patients") == {ACC: 0.0, VALID: 0.0, PREC: 1.0, REC: 1.0, FIXED: 0.0}
    assert score(db, "I cannot answer that.")[VALID] == 0.0


def test_runaway_prediction_is_an_invalid_query(db: Path) -> None:
    assert score(db, RUNAWAY, max_steps=200_000)[VALID] == 0.0


# ---------------------------------------------------------------------------- abstention
def test_unanswerable_abstention(db: Path) -> None:
    assert score(db, "", gold_sql="null", impossible=True) == {ACC: 1.0, VALID: 0.0, PREC: 0.0, REC: 0.0, FIXED: 1.0}
    assert score(db, " \n ", gold_sql="null", impossible=True)[ACC] == 1.0


def test_unanswerable_any_query_scores_zero(db: Path) -> None:
    assert score(db, "select 1 where 0", gold_sql="null", impossible=True) == {
        ACC: 0.0,
        VALID: 1.0,
        PREC: 0.0,
        REC: 0.0,
        FIXED: 0.0,
    }


@pytest.mark.parametrize("output", ["```", "-- no answer", "<sql></sql>", "NULL"])
def test_anything_non_empty_counts_as_output(db: Path, output: str) -> None:
    # The abstention rule looks at the raw stripped completion, not the cleaned SQL.
    result = score(db, output, gold_sql="null", impossible=True)
    assert result[ACC] == 0.0 and result[FIXED] == 0.0


def test_bare_fence_is_not_a_query(db: Path) -> None:
    result = score(db, "```", gold_sql="null", impossible=True)
    assert result[VALID] == 0.0  # "No query generated"


# ---------------------------------------------------------------------------- the fallback defect
def test_empty_gold_with_slot_values_can_never_score(db: Path) -> None:
    values = {"lab_name": "folate"}
    # Even the gold query itself, or an abstention, scores 0: gold result = ["folate"].
    assert score(db, GOLD_EMPTY, gold_sql=GOLD_EMPTY, values=values)[ACC] == 0.0
    assert score(db, "", gold_sql=GOLD_EMPTY, values=values)[ACC] == 0.0
    assert score(db, "select 'folate'", gold_sql=GOLD_EMPTY, values=values)[ACC] == 0.0  # tuple != str


def test_corrected_compares_with_real_empty_gold(db: Path) -> None:
    values = {"lab_name": "folate"}
    assert score(db, GOLD_EMPTY, gold_sql=GOLD_EMPTY, values=values)[FIXED] == 1.0
    assert score(db, "select 1 where 0", gold_sql=GOLD_EMPTY, values=values)[FIXED] == 1.0
    assert score(db, "select 1", gold_sql=GOLD_EMPTY, values=values)[FIXED] == 0.0  # rows vs none
    assert score(db, "select nope", gold_sql=GOLD_EMPTY, values=values)[FIXED] == 0.0  # error
    assert score(db, "", gold_sql=GOLD_EMPTY, values=values)[FIXED] == 0.0  # must answer


def test_empty_gold_without_slot_values_rewards_only_abstention_faithfully(db: Path) -> None:
    assert score(db, "", gold_sql=GOLD_EMPTY)[ACC] == 1.0
    assert score(db, GOLD_EMPTY, gold_sql=GOLD_EMPTY)[ACC] == 0.0
    # Corrected: the question is answerable, so the real (empty) result must be produced.
    assert score(db, "", gold_sql=GOLD_EMPTY)[FIXED] == 0.0
    assert score(db, GOLD_EMPTY, gold_sql=GOLD_EMPTY)[FIXED] == 1.0


def test_broken_gold_query(db: Path) -> None:
    broken = "select nope from patient"
    assert score(db, "select 1", gold_sql=broken, values={"v": "x"})[ACC] == 0.0
    assert score(db, "", gold_sql=broken)[ACC] == 1.0  # gold result [] -> abstention rule
    assert score(db, "select 1", gold_sql=broken)[FIXED] == 0.0


# ---------------------------------------------------------------------------- answerability
def test_precision_recall_are_per_instance_indicators(db: Path) -> None:
    # answerable + output -> 1/1; answerable + no output -> 0/0; unanswerable + output -> 0/0.
    assert (score(db, "x")[PREC], score(db, "x")[REC]) == (1.0, 1.0)
    assert (score(db, "")[PREC], score(db, "")[REC]) == (0.0, 0.0)
    r = score(db, "select 1", gold_sql="null", impossible=True)
    assert (r[PREC], r[REC]) == (0.0, 0.0)


def test_null_gold_text_is_truthy_without_is_impossible(db: Path) -> None:
    # "null" is non-empty, so only the is_impossible flag makes an item unanswerable.
    assert score(db, "select 1", gold_sql="null", impossible=False)[REC] == 1.0


def test_empty_gold_text_is_unanswerable_and_unscored(db: Path) -> None:
    assert score(db, "", gold_sql="   ")[ACC] == 0.0  # HELM only scores when gold text is non-empty
    assert score(db, "", gold_sql="   ")[FIXED] == 1.0


# ---------------------------------------------------------------------------- issue 15, case 5
@pytest.mark.parametrize(
    "payload",
    [
        "PRAGMA writable_schema=1;",
        "CREATE TEMP TABLE t AS SELECT 1",
        "pragma table_info(lab)",
        "begin",
        "insert into lab values (9, 9, 'x', 1.0)",
    ],
)
def test_corrected_accuracy_counts_only_a_select_as_correct(db: Path, payload: str) -> None:
    # On an item whose gold result is empty, a statement that returns no rows without error used
    # to score 1 on the corrected metric and on query validity.
    result = score(db, payload, gold_sql=GOLD_EMPTY, values={"lab_name": "folate"})
    assert result[FIXED] == 0.0
    assert result[VALID] == 0.0


def test_a_select_after_comments_still_counts(db: Path) -> None:
    sql = "-- the folate labs\n/* none expected */ select lab.result from lab where lab.name = 'folate'"
    assert score(db, sql, gold_sql=GOLD_EMPTY, values={"lab_name": "folate"})[FIXED] == 1.0
    assert mod.is_select("WITH x AS (select 1) select * from x")
    assert not mod.is_select("pragma writable_schema=1")


def test_a_value_larger_than_the_cap_fails_before_it_is_allocated(db: Path) -> None:
    rows, error = execute(db, "SELECT randomblob(500000000), randomblob(500000000)")
    assert rows == [] and error == "string or blob too big"


def test_rows_adding_up_past_the_memory_cap_stop_the_query(db: Path) -> None:
    # 300 rows of 900 KB each: every value is under the per-value cap, the result is 270 MB.
    sql = "with recursive r(x) as (select 1 union all select x + 1 from r limit 300) select randomblob(900000) from r"
    rows, error = execute(db, sql)
    assert rows == [] and error == f"query budget exceeded: more than {mod.MAX_RESULT_BYTES >> 20} MB of rows"


def test_the_memory_cap_holds_the_process_peak(db: Path, pytester: pytest.Pytester) -> None:
    # Measured in a fresh interpreter: the query that took 1.97 GB before the cap.
    script = (
        "import resource, sys\n"
        "from pytest_medhelm.metrics.ehr_sql import execute\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"print(execute({str(db)!r}, 'SELECT randomblob(500000000), randomblob(500000000)')[1])\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n"
    )
    result = pytester.run(sys.executable, "-c", script)
    error, grown_mb = result.outlines[-2:]
    assert error == "string or blob too big"
    assert int(grown_mb) < 50


def test_at_most_a_few_queries_run_at_once(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    open_now, peak = 0, 0
    lock = threading.Lock()
    real_connect = sqlite3.connect

    class Counted:
        def __init__(self, conn: sqlite3.Connection) -> None:
            self._conn = conn

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(self._conn, name)

        def close(self) -> None:
            nonlocal open_now
            with lock:
                open_now -= 1
            self._conn.close()

    def connect(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal open_now, peak
        with lock:
            open_now += 1
            peak = max(peak, open_now)
        return Counted(real_connect(*args, **kwargs))

    monkeypatch.setattr(mod.sqlite3, "connect", connect)
    slow = "with recursive r(x) as (select 1 union all select x + 1 from r limit 300000) select count(*) from r"
    threads = [threading.Thread(target=execute, args=(db, slow)) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == mod.MAX_CONCURRENT_QUERIES


@pytest.mark.parametrize(
    "payload",
    [
        "DROP TABLE patient",
        "DELETE FROM lab",
        "UPDATE patient SET age = 0",
        "INSERT INTO lab VALUES (9, 9, 'x', 1)",
        "PRAGMA writable_schema=1",
        "VACUUM",
        "REINDEX",
        "ALTER TABLE lab RENAME TO gone",
        "CREATE TABLE t(x)",
        "CREATE INDEX i ON lab(name)",
        "PRAGMA journal_mode=DELETE",
        "ATTACH DATABASE ':memory:' AS m",
        "CREATE TRIGGER tr AFTER INSERT ON lab BEGIN DELETE FROM lab; END",
        "SELECT 1; DROP TABLE lab",
        RUNAWAY,
    ],
)
def test_destructive_or_runaway_sql_leaves_the_database_unchanged(db: Path, payload: str) -> None:
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    score(db, payload, max_steps=1_000_000)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
