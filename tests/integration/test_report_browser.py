"""report.html in a real headless browser (Debian's chromium through Selenium and chromedriver).

It renders, the leaderboard sorts, a benchmark's drill-down opens with its instances, nothing is
fetched from the network, and model outputs holding ``<script>`` and ``<img onerror=...>`` are
shown as text and never run. A screenshot is saved under the test's tmp dir and its path printed.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_medhelm.leaderboard.html import WITHHELD, render
from pytest_medhelm.results import InstanceRecord, aggregate

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver (.ci/run installs them)"
)

SCRIPT_OUTPUT = "<script>window.__pwned = 'script'</script>"
IMG_OUTPUT = "<img src=x onerror=\"window.__pwned = 'img'\">"
IDS = frozenset({"med_qa", "pubmed_qa"})


def rows() -> list[InstanceRecord]:
    made = []
    answers = {"model-a": [1, 1, 1, 0], "model-b": [1, 0, 0, 0], "model-c": [1, 1, 1, 1]}
    for benchmark, category in (("med_qa", "clinical_decision_support"), ("pubmed_qa", "medical_research")):
        for model, scores in answers.items():
            for i, score in enumerate(scores):
                output = (
                    SCRIPT_OUTPUT
                    if (model, i) == ("model-b", 0)
                    else IMG_OUTPUT
                    if (model, i) == ("model-b", 1)
                    else f"answer {i}"
                )
                made.append(
                    InstanceRecord(
                        benchmark=benchmark,
                        instance_id=f"q{i}",
                        model=model,
                        score=float(score),
                        metrics={"exact_match": float(score)},
                        passed=bool(score),
                        category=category,
                        subcategory="sub",
                        normalized=float(score),
                        cost_usd={"model-a": 0.03, "model-b": 0.01, "model-c": 0.02}[model],
                        output=output,
                        reference="A",
                    )
                )
    return made


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # type: ignore[assignment]
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1200,1600",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def requested_urls(driver: object) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):  # type: ignore[attr-defined]
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_report_renders_sorts_drills_down_fetches_nothing_and_runs_no_injected_markup(
    browser: object, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    results = aggregate(rows(), medhelm_ids=IDS)
    page = tmp_path / "report.html"
    page.write_text(render(results, include_text=True), encoding="utf-8")
    driver = browser
    driver.get(page.as_uri())  # type: ignore[attr-defined]

    # Renders: the leaderboard holds every model, ranked by mean win rate.
    def models_in_order() -> list[str]:
        return [
            row.get_attribute("data-model") for row in driver.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr")
        ]

    assert models_in_order() == ["model-c", "model-a", "model-b"]
    assert len(driver.find_elements(By.CSS_SELECTOR, "#heatmap tbody tr")) == 2
    assert len(driver.find_elements(By.CSS_SELECTOR, "#categories tbody tr")) == 4
    assert len(driver.find_elements(By.CSS_SELECTOR, "#scatter circle.point")) == 3
    assert "[" in driver.find_element(By.CSS_SELECTOR, "#leaderboard tbody tr td:nth-child(2)").text  # interval

    # Sorts: by total cost ascending, then descending.
    cost_header = driver.find_elements(By.CSS_SELECTOR, "#leaderboard th")[3]
    cost_header.click()
    assert cost_header.get_attribute("aria-sort") == "ascending"
    assert models_in_order() == ["model-b", "model-c", "model-a"]
    cost_header.click()
    assert models_in_order() == ["model-a", "model-c", "model-b"]

    # Drill-down: a benchmark opens its instances with score, output and reference.
    assert not driver.find_element(By.ID, "drilldown").is_displayed()
    driver.find_element(By.CSS_SELECTOR, "button.bench[data-benchmark='med_qa']").click()
    assert driver.find_element(By.ID, "drilldown").is_displayed()
    assert driver.find_element(By.ID, "drill-title").text.startswith("med_qa")
    cells = [
        [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
        for tr in driver.find_elements(By.CSS_SELECTOR, "#instances tbody tr")
    ]
    assert len(cells) == 12
    # The injected markup is on the page as text, and none of it ran.
    assert ["q0", "model-b", "1.000", SCRIPT_OUTPUT, "A"] in cells
    assert ["q1", "model-b", "0.000", IMG_OUTPUT, "A"] in cells
    assert driver.execute_script("return window.__pwned === undefined")  # type: ignore[attr-defined]
    assert not driver.find_elements(By.CSS_SELECTOR, "#instances img, #instances script")

    # Nothing fetched: the page is the only request that could reach anything (chrome:// and data:
    # URLs are the browser's own start page and never leave it).
    assert [url for url in requested_urls(driver) if not url.startswith(("chrome://", "data:"))] == [page.as_uri()]
    screenshot = tmp_path / "report.png"
    driver.save_screenshot(str(screenshot))  # type: ignore[attr-defined]
    assert screenshot.stat().st_size > 10_000
    print(f"report screenshot: {screenshot}")


def test_without_include_text_the_page_holds_no_output(tmp_path: Path) -> None:
    html = render(aggregate(rows(), medhelm_ids=IDS))
    assert "answer 1" not in html and "window.__pwned" not in html and WITHHELD in html
    # With it, the outputs are in the page's data block, escaped so they cannot close it.
    html = render(aggregate(rows(), medhelm_ids=IDS), include_text=True)
    assert "answer 1" in html and "<script>window" not in html and "\\u003cscript\\u003e" in html
