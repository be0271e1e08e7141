"""The review page in a real browser: headless Chromium over WebDriver (Debian's chromium and
chromium-driver), against `s3-alt-text review` on the local stack. Thumbnails load from the
local S3 through presigned URLs, a hostile caption shows as text, a caption edited and saved
reaches the object's tag and record, an approval reaches the record, and a request without
the page's token is refused. A screenshot of the page is left in target/review-page.png."""

import json
import os
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import local_stack as stack  # noqa: E402

BINARY = Path(os.environ.get("S3_ALT_TEXT_BINARY", ROOT / "target/debug/s3-alt-text"))
SCREENSHOT = ROOT / "target/review-page.png"
HOSTILE = "<img src=x onerror=alert(1)>"


def run(local, *args, check=True):
    env = {"PATH": os.environ["PATH"], "ALT_TEXT_PROVIDER": "embedded", **local.function_env()}
    done = subprocess.run([str(BINARY), *args], env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


@pytest.fixture(scope="module")
def page():
    """The local stack with the samples captioned (embedded alt text where there is some),
    one hostile caption, and the review page on it."""
    assert BINARY.exists(), f"{BINARY}: build it first (cargo build)"
    with stack.LocalStack() as local:
        local.create_samples()
        uploads = local.upload_samples(quiet=True)
        run(local, "backfill", "--bucket", stack.BUCKET)
        run(local, "set", "--bucket", stack.BUCKET, "--key", "uploads/été/café crème.jpg", HOSTILE)
        env = {"PATH": os.environ["PATH"], **local.function_env()}
        review = subprocess.Popen(
            [str(BINARY), "review", "--bucket", stack.BUCKET],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            line = review.stdout.readline()
            assert line.startswith("Review page: http://127.0.0.1:"), line + review.stderr.read()
            url = line.split(": ", 1)[1].strip()
            yield local, url, uploads
        finally:
            review.kill()
            review.wait()


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1100"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


def card(driver, key):
    return driver.find_element(By.CSS_SELECTOR, f'article.card[data-key="{key}"]')


def test_thumbnails_load_and_a_hostile_caption_is_text(page, browser):
    local, url, uploads = page
    browser.get(url)
    assert stack.BUCKET in browser.title
    images = [u["key"] for u in uploads if u["content_type"].startswith("image/")]
    WebDriverWait(browser, 20).until(
        lambda d: all(d.execute_script("return arguments[0].complete", i) for i in d.find_elements(By.CSS_SELECTOR, "img.thumb"))
    )
    thumbs = browser.find_elements(By.CSS_SELECTOR, "img.thumb")
    assert len(thumbs) == len(images), [t.get_attribute("src")[:80] for t in thumbs]
    for thumb in thumbs:
        width = browser.execute_script("return arguments[0].naturalWidth", thumb)
        assert width > 0, thumb.get_attribute("src").split("?")[0]
    # The hostile caption is the text of its field, and no element came of it.
    coffee = card(browser, "uploads/été/café crème.jpg")
    assert coffee.find_element(By.TAG_NAME, "textarea").get_attribute("value") == HOSTILE
    assert not browser.find_elements(By.CSS_SELECTOR, 'img[src="x"]')
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text
    assert "written by a person" in coffee.text
    browser.save_screenshot(str(SCREENSHOT))


def test_a_caption_edited_and_saved_reaches_the_tag_and_record(page, browser):
    local, url, _ = page
    browser.get(url)
    key = "archive/2019/astronaut portrait.png"
    field = card(browser, key).find_element(By.TAG_NAME, "textarea")
    field.clear()
    field.send_keys("An astronaut floating above the blue Earth")
    card(browser, key).find_element(By.CSS_SELECTOR, 'button[value="save"]').click()
    WebDriverWait(browser, 10).until(lambda d: f"{key}: saved" in d.find_element(By.CSS_SELECTOR, ".note").text)
    assert local.tags(key).get("alt-text") == "An astronaut floating above the blue Earth"
    record = local.record(key)
    assert record["alt_text"] == "An astronaut floating above the blue Earth"
    assert record["captions"]["en"]["source"] == "person"
    assert "reviewed_at" in record


def test_a_caption_approved_as_it_is_is_marked_reviewed(page, browser):
    local, url, _ = page
    browser.get(url)
    key = "uploads/cat.jpg"
    assert local.record(key)["state"] == "captioned"
    card(browser, key).find_element(By.XPATH, ".//button[text()='Approve as it is']").click()
    WebDriverWait(browser, 10).until(lambda d: f"{key}: approved" in d.find_element(By.CSS_SELECTOR, ".note").text)
    assert "reviewed_at" in local.record(key)
    assert "reviewed" in card(browser, key).text


def test_requests_without_the_token_or_from_another_host_are_refused(page):
    _, url, _ = page
    parts = urllib.parse.urlsplit(url)
    assert requests.get(url, timeout=10).status_code == 200
    assert requests.get(f"{parts.scheme}://{parts.netloc}/", timeout=10).status_code == 403
    assert requests.get(f"{parts.scheme}://{parts.netloc}/?token=wrong", timeout=10).status_code == 403
    assert requests.get(url, headers={"Host": f"attacker.example:{parts.port}"}, timeout=10).status_code == 403
    save = requests.post(
        f"{parts.scheme}://{parts.netloc}/save",
        data={"key": "uploads/cat.jpg", "lang": "en", "text": "forged"},
        allow_redirects=False,
        timeout=10,
    )
    assert save.status_code == 403
