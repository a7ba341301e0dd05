"""The web page in a real browser: Debian's headless chromium (through its chromedriver) drives the API served by
uvicorn, with a real Celery worker process and the tiny checkpoint behind it.

One service and one browser for the module. Each page is saved as a PNG under ``tests/artifacts/web/`` (ignored by
git) to look at.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.workers.conftest import REDIS_URL, WorkerProcess

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "web"
WAIT_S = 60.0
INGEST_WAIT_S = 300.0

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()),
    reason="no chromium/chromedriver in /usr/bin: `apt-get install chromium chromium-driver` (scripts/setup does)",
)

SUBTITLES = """1
00:00:01,000 --> 00:00:02,500
Welcome to the valley trail

2
00:00:04,200 --> 00:00:06,000
The rider jumps over the wooden ramp

3
00:00:07,000 --> 00:00:09,000
Thanks for watching
"""
PHRASE = "wooden ramp"
PHRASE_START_S = 4.2


@dataclass
class Service:
    base: str
    app: Any
    worker: WorkerProcess
    keys: dict[str, str]  # tenant -> plain key

    def api(self, tenant: str) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {self.keys[tenant]}"}, timeout=60)


@pytest.fixture(scope="module")
def service(
    worker_database: str, start_worker: Callable[..., WorkerProcess], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    import uvicorn

    from api.main import create_app
    from vidground import keys
    from vidground.settings import Settings

    folder = tmp_path_factory.mktemp("web-service")
    settings = Settings(
        database_url=worker_database, redis_url=REDIS_URL, data_dir=folder / "data", storage_dir=folder / "videos"
    )
    worker = start_worker()
    app = create_app(settings)
    engine = app.state.store.engine
    tenant_keys = {tenant: keys.create(engine, tenant=tenant).key for tenant in ("acme", "globex")}
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield Service(f"http://127.0.0.1:{sock.getsockname()[1]}", app, worker, tenant_keys)
    server.should_exit = True
    thread.join(15)
    sock.close()
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000",
                     "--autoplay-policy=no-user-gesture-required", "--mute-audio"):  # fmt: skip
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=DriverService(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(WAIT_S)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def wait(driver: Any, condition: Callable[[Any], Any], timeout_s: float = WAIT_S, what: str = "") -> Any:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout_s, poll_frequency=0.2).until(condition)
    except TimeoutException:
        shot = ARTIFACTS / "timeout.png"
        driver.save_screenshot(str(shot))
        status = driver.execute_script("return document.getElementById('page-status')?.textContent")
        pytest.fail(f"waited {timeout_s} s for {what or condition}; page status {status!r}; screenshot {shot}")


def css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def open_page(driver: Any, service: Service, path: str, *, tenant: str = "acme") -> None:
    """Open ``path`` with ``tenant``'s key saved in the browser, and wait until the page has drawn its view."""
    driver.get(service.base + "/static/app.css")  # same origin, so localStorage can be set before the page runs
    driver.execute_script("localStorage.setItem('vidground.apiKey', arguments[0])", service.keys[tenant])
    driver.get(service.base + path)
    wait(driver, lambda d: d.execute_script("return document.body.dataset.ready"), what=f"{path} to draw")


def attribute(driver: Any, selector: str, name: str) -> str | None:
    """An attribute of the first element matching ``selector``, read in one step (the library list is redrawn
    while jobs run, so an element found a moment ago may be gone)."""
    value = driver.execute_script(
        "const node = document.querySelector(arguments[0]); return node && node.getAttribute(arguments[1])",
        selector,
        name,
    )
    return None if value is None else str(value)


def screenshot(driver: Any, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def current_time(driver: Any) -> float:
    return float(driver.execute_script("return document.getElementById('player').currentTime"))


@pytest.fixture(scope="module")
def uploaded(service: Service, browser: Any, bikes_video: Path, tmp_path_factory: pytest.TempPathFactory) -> int:
    """bikes.mp4 with its subtitles uploaded through the library page's picker and ingested: the video id."""
    folder = tmp_path_factory.mktemp("web-upload")
    video, subtitles = folder / "bikes.mp4", folder / "bikes.en.srt"
    shutil.copyfile(bikes_video, video)
    subtitles.write_text(SUBTITLES)
    driver = browser
    open_page(driver, service, "/")
    css(driver, "#video-input")[0].send_keys(str(video))
    css(driver, "#subtitle-input")[0].send_keys(str(subtitles))
    css(driver, "#upload-button")[0].click()
    message = wait(driver, lambda d: (css(d, "#upload-message.ok") or [None])[0], what="the upload to answer")
    assert message.text.startswith("Uploaded as video"), message.text
    video_id = int(wait(driver, lambda d: attribute(d, ".video-item", "data-video-id"), what="the video listed"))
    screenshot(driver, "library-ingesting")
    job = f'.video-item[data-video-id="{video_id}"] .job'
    seen: set[str] = set()

    def ingested(d: Any) -> bool:
        status = attribute(d, job, "data-job-status")
        seen.add(str(status))
        return status in ("succeeded", "failed")

    wait(driver, ingested, INGEST_WAIT_S, what="the ingest job to end\n" + service.worker.log())
    assert attribute(driver, job, "data-job-status") == "succeeded", (css(driver, job)[0].text, service.worker.log())
    assert seen & {"queued", "running"}, "the page never showed the job before it ended"
    assert float(attribute(driver, job + " progress", "value") or 0) == 100.0
    wait(driver, lambda d: css(d, f'.video-item[data-video-id="{video_id}"][data-status="indexed"]'),
         what="the video to show as indexed (no reload)")  # fmt: skip
    wait(driver, lambda d: d.execute_script(
        "const img = document.querySelector('.video-item img'); return img.complete && img.naturalWidth > 0"
    ), what="the thumbnail")  # fmt: skip
    screenshot(driver, "library")
    return video_id


def test_search_a_subtitle_phrase_and_land_on_its_moment(service: Service, browser: Any, uploaded: int) -> None:
    driver = browser
    open_page(driver, service, "/search")
    box = css(driver, "#search-input")[0]
    box.send_keys(PHRASE)
    box.submit()
    wait(driver, lambda d: css(d, ".hit"), what="search hits")
    group = css(driver, f'.hit-group[data-video-id="{uploaded}"]')
    assert group, driver.page_source[-2000:]
    hits = css(driver, f'.hit-group[data-video-id="{uploaded}"] .hit')
    texts = [h.find_element("css selector", ".hit-text").text for h in hits]
    best = next(h for h, text in zip(hits, texts, strict=True) if PHRASE in text)
    start_s = float(best.get_attribute("data-start"))
    assert start_s == pytest.approx(PHRASE_START_S)
    assert "subtitle" in best.text and "0:04.2" in best.text
    wait(driver, lambda d: d.execute_script(
        "return [...document.querySelectorAll('.hit img')].every(i => i.complete && i.naturalWidth > 0)"
    ), what="hit thumbnails")  # fmt: skip
    screenshot(driver, "search")

    best.find_element("css selector", "a").click()
    wait(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "video", what="the video page")
    assert f"/videos/{uploaded}#t=" in driver.current_url
    wait(driver, lambda d: d.execute_script("return document.getElementById('player').readyState >= 1"),
         what="the player to load the file through its signed link")  # fmt: skip
    wait(driver, lambda d: abs(current_time(d) - start_s) < 0.5, what="the player at the hit")
    mark = css(driver, "#lane-spans .seg.hit")
    assert len(mark) == 1 and float(mark[0].get_attribute("data-start")) == pytest.approx(start_s)
    left = driver.execute_script("return parseFloat(arguments[0].style.left)", mark[0])
    assert left == pytest.approx(100 * start_s / 10.0, abs=2)  # bikes.mp4 is 10 s long: drawn to scale
    screenshot(driver, "video-from-search")


def test_locate_from_the_video_page_shows_the_jobs_answer(service: Service, browser: Any, uploaded: int) -> None:
    driver = browser
    open_page(driver, service, f"/videos/{uploaded}")
    query = "a rider on a bike"
    css(driver, "#locate-input")[0].send_keys(query)
    css(driver, "#locate-button")[0].click()
    result = wait(driver, lambda d: (css(d, f'.locate-result[data-query="{query}"]') or [None])[0],
                  INGEST_WAIT_S, what="the locate job's answer\n" + service.worker.log())  # fmt: skip
    assert css(driver, "#locate-message")[0].text.endswith("finished.")
    with service.api("acme") as api:
        answer = next(q for q in api.get(f"/v1/videos/{uploaded}/events").json()["queries"] if q["query"] == query)
    buttons = result.find_elements("css selector", ".span-button")
    assert len(buttons) == len(answer["spans"])  # the tiny random model's real answer, as the API has it
    if answer["spans"]:
        buttons[0].click()
        start_s = answer["spans"][0]["start_s"]
        wait(driver, lambda d: abs(current_time(d) - start_s) < 0.5, what="the player at the first span")
    else:
        assert result.find_elements("css selector", ".not-found")
    screenshot(driver, "video-locate")


def test_captions_and_ranked_spans_follow_and_seek_the_player(service: Service, browser: Any, uploaded: int) -> None:
    """Captions and answers as a model that saw the events would store them (the tiny random model's words are
    noise): the caption list and track, ranked spans with scores, "not found", clicks that seek."""
    from vidground.index.records import AnalysisKind, AnalysisRecord, OutcomeRecord, QueryOutcome, SegmentRecord, Source

    store = service.app.state.store
    captions = (
        SegmentRecord(Source.CAPTION, 0.0, 3.0, text="A street with parked cars."),
        SegmentRecord(Source.CAPTION, 3.0, 6.5, text="A cyclist in a helmet stops by a pole."),
        SegmentRecord(Source.CAPTION, 6.5, 10.0, text="Riders pass a shop window."),
    )
    spans = (
        SegmentRecord(Source.QUERY_ANSWER, 6.5, 8.0, query="a jump", score=0.55, rank=2),
        SegmentRecord(Source.QUERY_ANSWER, 3.0, 4.5, query="a jump", score=0.91, rank=1),
    )
    outcomes = (OutcomeRecord("a jump", QueryOutcome.FOUND), OutcomeRecord("a whale", QueryOutcome.NOT_FOUND))
    for kind, segments, found in ((AnalysisKind.CAPTION, captions, ()), (AnalysisKind.LOCATE, spans, outcomes)):
        store.replace_analysis(
            uploaded,
            AnalysisRecord(kind, "web-test", None, None, "m", None, None, segments=segments, outcomes=found),
            vectors=[[1.0] + [0.0] * 383] * len(segments),  # not searched here: any unit vectors of MiniLM's size
            embedder="all-MiniLM-L6-v2",
        )
    driver = browser
    open_page(driver, service, f"/videos/{uploaded}#t=1.0")
    wait(driver, lambda d: abs(current_time(d) - 1.0) < 0.5, what="the player at #t=1.0")
    lines = css(driver, "#caption-list .caption-line")
    assert [line.text for line in lines] == [
        "0:00.0 A street with parked cars.",
        "0:03.0 A cyclist in a helmet stops by a pole.",
        "0:06.5 Riders pass a shop window.",
    ]
    assert len(css(driver, "#lane-captions .seg.caption")) == 3
    wait(driver, lambda d: attribute(d, '#caption-list li[aria-current="true"]', "data-index") == "0",
         what="the first caption marked current")  # fmt: skip
    track_mode = "return document.querySelector('#player track').track.mode"
    assert driver.execute_script(track_mode) == "showing"
    cues = driver.execute_script("return document.querySelector('#player track').track.cues?.length")
    assert cues == 3  # the WebVTT from the API, through a blob URL
    css(driver, "#captions-toggle")[0].click()
    assert driver.execute_script(track_mode) == "hidden"
    css(driver, "#captions-toggle")[0].click()

    lines[2].click()
    wait(driver, lambda d: abs(current_time(d) - 6.5) < 0.5, what="the player at the third caption")
    assert driver.current_url.endswith("#t=6.5")
    wait(driver, lambda d: attribute(d, '#caption-list li[aria-current="true"]', "data-index") == "2",
         what="the current caption following the player")  # fmt: skip

    buttons = css(driver, '.locate-result[data-query="a jump"] .span-button')
    assert [b.text for b in buttons] == ["#1 0:03.0–0:04.5 · score 0.91", "#2 0:06.5–0:08.0 · score 0.55"]
    assert css(driver, '.locate-result[data-query="a whale"] .not-found')[0].text == "Not found."
    assert len(css(driver, "#lane-spans .seg.span")) == 2
    buttons[0].click()
    wait(driver, lambda d: abs(current_time(d) - 3.0) < 0.5, what="the player at the first span")
    screenshot(driver, "video")
    driver.set_window_size(390, 844)  # a phone
    screenshot(driver, "video-phone")
    width = driver.execute_script("return document.documentElement.scrollWidth")
    driver.set_window_size(1280, 1000)
    assert width <= 390, "the page scrolls sideways on a phone"


DROP_FILE = """
const [name, text] = arguments;
const data = new DataTransfer();
data.items.add(new File([text], name, {type: "video/mp4"}));
document.getElementById("dropzone").dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true}));
"""


def test_a_file_dropped_that_is_not_a_video_shows_the_apis_message(service: Service, browser: Any) -> None:
    name, text = "holiday.mp4", "this is not a video, only text " * 40
    with service.api("acme") as api:
        refused = api.post("/v1/videos", files={"file": (name, text.encode(), "video/mp4")})
    assert refused.status_code == 422
    driver = browser
    open_page(driver, service, "/")
    before = len(css(driver, ".video-item"))
    driver.execute_script(DROP_FILE, name, text)
    message = wait(driver, lambda d: (css(d, "#upload-message.error") or [None])[0], what="the refusal")
    assert message.text == refused.json()["message"]
    assert message.text.startswith("holiday.mp4: ")
    assert len(css(driver, ".video-item")) == before
    screenshot(driver, "library-rejected")


def test_another_tenants_video_is_not_reachable_from_the_page(
    service: Service, browser: Any, uploaded: int, cfr_video: Path
) -> None:
    with service.api("globex") as api, cfr_video.open("rb") as stream:
        theirs = api.post("/v1/videos", files={"file": ("theirs.mp4", stream, "video/mp4")}).json()["video"]["id"]
        their_link = api.post(f"/v1/videos/{theirs}/file-url").json()["url"]
    driver = browser
    open_page(driver, service, f"/videos/{theirs}")
    assert css(driver, "#page-status")[0].text == f"video {theirs} not found"
    assert not css(driver, "#player")
    screenshot(driver, "video-other-tenant")
    open_page(driver, service, "/")
    listed = {int(li.get_attribute("data-video-id")) for li in css(driver, ".video-item")}
    assert uploaded in listed and theirs not in listed
    mine_link = driver.execute_script(
        "return fetch(arguments[0], {method: 'POST', headers: {Authorization: 'Bearer ' + localStorage.getItem("
        "'vidground.apiKey')}}).then(r => r.status)",
        f"/v1/videos/{theirs}/file-url",
    )
    assert mine_link == 404
    # Their own signed link works for them, and only for that video: swapping in acme's video id is refused.
    with httpx.Client(base_url=service.base) as anonymous:
        assert anonymous.get(their_link, headers={"Range": "bytes=0-9"}).status_code == 206
        assert anonymous.get(their_link.replace(f"/{theirs}/", f"/{uploaded}/")).status_code == 401


def test_the_key_is_asked_for_kept_and_a_wrong_one_is_told(service: Service, browser: Any) -> None:
    driver = browser
    driver.get(service.base + "/static/app.css")
    driver.execute_script("localStorage.removeItem('vidground.apiKey')")
    driver.get(service.base + "/")
    wait(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "no-key", what="the key form")
    assert "needed" in css(driver, "#key-form")[0].get_attribute("class")
    assert driver.execute_script("return document.activeElement.id") == "key-input"
    assert css(driver, "#page-status")[0].text == "Enter an API key to see this tenant's videos."
    screenshot(driver, "no-key")

    css(driver, "#key-input")[0].send_keys("vg_not-a-key")
    css(driver, "#key-form button[type=submit]")[0].click()  # saved, and the page reloads with it
    wait(driver, lambda d: css(d, "#page-status")[0].text.startswith("API key not recognised"), what="the refusal")
    assert driver.execute_script("return localStorage.getItem('vidground.apiKey')") == "vg_not-a-key"
    assert not css(driver, ".video-item")
    css(driver, "#key-forget")[0].click()
    wait(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "no-key", what="the key forgotten")
    assert driver.execute_script("return localStorage.getItem('vidground.apiKey')") is None
