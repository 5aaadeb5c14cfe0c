"""The web app in a real browser (Debian's Chromium driven by Playwright), against
``python app.py`` (embedded, keys off) and gunicorn on SeaweedFS + FerretDB (keys on,
downloads redirected to presigned storage URLs).

Elements are found by role and accessible name, as a person (or a screen reader)
finds them. Screenshots of the main screens go to ``FILEDROP_SCREENSHOTS`` (a
directory) when it is set, else to the test's temporary directory.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Playwright,
    Route,
    expect,
    sync_playwright,
)

from tests import servers
from tests.fixtures import REQUIRE_SERVERS
from tests.live import Gunicorn, real_server_settings, start_dev_server, start_gunicorn

pytestmark = pytest.mark.live

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TUS_SIZE = 12 * 1024 * 1024  # above the page's 8 MiB tus threshold: two PATCHes
QUOTA = "64MiB"
# A 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360f8cfc0f01f0005000201e221bc330000000049454e44ae426082"
)

expect.set_options(timeout=15_000)


@dataclass
class Site:
    name: str
    url: str
    key: str | None
    server: Gunicorn

    def api(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> requests.Response:
        sent = {**(headers or {})}
        if self.key:
            sent["Authorization"] = f"Bearer {self.key}"
        return requests.request(method, self.url + path, headers=sent, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if REQUIRE_SERVERS:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = os.environ.get("FILEDROP_SCREENSHOTS")
    path = Path(where) if where else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module", params=["embedded", "gunicorn-seaweedfs-ferretdb"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("web-" + request.param)
    if request.param == "embedded":
        settings = {
            "DATA_DIR": str(work / "data"),
            "DEFAULT_QUOTA_BYTES": QUOTA,
            "LOG_LEVEL": "WARNING",
        }
        app = start_dev_server(settings, work / "app.log")
        try:
            yield Site(request.param, app.url, None, app)
        finally:
            app.stop()
        return
    seaweedfs: servers.S3Server = request.getfixturevalue("seaweedfs")
    ferretdb: servers.FerretDB = request.getfixturevalue("ferretdb")
    admin = secrets.token_urlsafe(24)
    settings = {
        **real_server_settings(seaweedfs, ferretdb, "fd-web"),
        "FILEDROP_AUTH": "enabled",
        "FILEDROP_ADMIN_TOKEN": admin,
        # Downloads by GET go straight to storage here; the page must still work.
        "DOWNLOAD_REDIRECT": "presigned",
        "LOG_LEVEL": "WARNING",
    }
    app = start_gunicorn(settings, work / "gunicorn.log", [])
    try:
        made = requests.post(
            f"{app.url}/admin/users",
            json={"name": "Ada", "quota_bytes": QUOTA},
            headers={"Authorization": f"Bearer {admin}"},
            timeout=10,
        )
        assert made.status_code == 201, made.text
        yield Site(request.param, app.url, made.json()["api_key"], app)
    finally:
        app.stop()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    yield context
    context.close()


def open_app(context: BrowserContext, site: Site) -> Page:
    page = context.new_page()
    page.goto(site.url + "/")
    if site.key:
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        page.get_by_label("API key").fill("fd_not-a-key")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("not accepted")
        page.get_by_label("API key").fill(site.key)
        page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Upload")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_be_hidden()
    return page


def row(page: Page, name: str) -> Locator:
    return page.get_by_role("row", name=re.compile(re.escape(name)))


def dialog(page: Page) -> Locator:
    return page.get_by_role("dialog")


def pick_files(page: Page, files: list[Path]) -> None:
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload").click()
    chooser.value.set_files([str(f) for f in files])


def uploaded(page: Page, name: str) -> None:
    """The upload's progress bar is full and its line says so."""
    bar = page.get_by_role("progressbar", name=f"Upload progress of {name}")
    expect(bar).to_have_attribute("value", re.compile(r"\d+"))
    item = page.get_by_role("listitem").filter(has=bar)
    expect(item).to_contain_text("Uploaded")
    assert bar.get_attribute("value") == bar.get_attribute("max")


def test_a_person_manages_and_shares_files(
    site: Site, browser: Browser, context: BrowserContext, shots: Path, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("Meeting notes\n<script>alert(1)</script>\n")
    photo = tmp_path / "photo.png"
    photo.write_bytes(PNG)
    page = open_app(context, site)
    if site.key:
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        expect(page.get_by_text("Ada")).to_be_visible()
        expect(page.get_by_role("progressbar", name="Storage used")).to_be_visible()
    else:
        expect(page.get_by_role("button", name="Sign out")).to_be_hidden()

    # Upload two files with the picker, one by drag and drop.
    pick_files(page, [notes, photo])
    uploaded(page, "notes.txt")
    uploaded(page, "photo.png")
    drop = page.evaluate_handle(
        """() => {
            const data = new DataTransfer();
            data.items.add(new File(["# dropped\\n"], "dropped.md", {type: "text/markdown"}));
            return data;
        }"""
    )
    page.dispatch_event("#drop-zone", "dragover", {"dataTransfer": drop})
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": drop})
    uploaded(page, "dropped.md")
    for name in ("notes.txt", "photo.png", "dropped.md"):
        expect(row(page, name)).to_be_visible()

    # A name is text, never markup; previews of text and images open inline.
    row(page, "notes.txt").get_by_role("button", name="notes.txt").click()
    expect(dialog(page).get_by_text("<script>alert(1)</script>")).to_be_visible()
    dialog(page).get_by_role("button", name="Close").click()
    row(page, "photo.png").get_by_role("button", name="photo.png").click()
    expect(dialog(page).get_by_role("img", name="photo.png")).to_be_visible()
    dialog(page).get_by_role("button", name="Close").click()

    # Sorting: by name, then by size, largest first.
    names = page.get_by_role("table").get_by_role("button", name=re.compile(r"\.(txt|png|md)$"))
    page.get_by_role("button", name="Name", exact=True).click()
    expect(names).to_have_text(["dropped.md", "notes.txt", "photo.png"])
    page.get_by_role("button", name="Size", exact=True).click()
    expect(names).to_have_text(["photo.png", "notes.txt", "dropped.md"])

    # New folder, from the keyboard alone; then rename and move.
    page.get_by_role("button", name="New folder").focus()
    page.keyboard.press("Enter")
    expect(dialog(page).get_by_label("Folder name")).to_be_focused()
    page.keyboard.type("Projects")
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Projects")).to_be_visible()
    row(page, "notes.txt").get_by_role("button", name="Rename").click()
    dialog(page).get_by_label("New name").fill("minutes.txt")
    dialog(page).get_by_role("button", name="Rename").click()
    expect(row(page, "minutes.txt")).to_be_visible()
    expect(row(page, "notes.txt")).to_have_count(0)
    row(page, "dropped.md").get_by_role("button", name="Move").click()
    dialog(page).get_by_label("To folder").fill("/Projects")
    dialog(page).get_by_role("button", name="Move").click()
    expect(row(page, "dropped.md")).to_have_count(0)
    page.screenshot(path=shots / f"{site.name}-files-desktop.png")

    # Folder navigation with breadcrumbs.
    page.get_by_role("link", name="Projects").click()
    crumbs = page.get_by_role("navigation", name="Breadcrumbs")
    expect(crumbs.get_by_role("link", name="Projects")).to_have_attribute("aria-current", "page")
    expect(row(page, "dropped.md")).to_be_visible()
    crumbs.get_by_role("link", name="Home").click()
    expect(row(page, "minutes.txt")).to_be_visible()

    # Download from the app: through a one-time link, no key in any URL.
    with page.expect_download() as got:
        row(page, "minutes.txt").get_by_role("button", name="Download").click()
    assert Path(got.value.path()).read_bytes() == notes.read_bytes()
    assert site.key is None or site.key not in got.value.url

    # Share with a password; open the link in a fresh browser.
    row(page, "minutes.txt").get_by_role("button", name="Share").click()
    share = dialog(page)
    share.get_by_label("Password (optional)").fill("open sesame")
    share.get_by_role("button", name="Create link").click()
    link_box = share.get_by_role("textbox", name="Share link")
    expect(link_box).to_have_value(re.compile(r"/d/"))
    link = link_box.input_value()
    expect(share.get_by_role("button", name="Revoke")).to_have_count(1)
    page.screenshot(path=shots / f"{site.name}-share-desktop.png")

    stranger = browser.new_context(viewport=PHONE, accept_downloads=True)
    try:
        public = stranger.new_page()
        public.goto(link)
        expect(public.get_by_role("heading", name="A shared file")).to_be_visible()
        expect(public.get_by_text("minutes.txt")).to_have_count(0)  # not before the password
        public.get_by_label("Password").fill("wrong")
        public.get_by_role("button", name="Download").click()
        expect(public.get_by_role("alert")).to_contain_text("wrong")
        public.get_by_label("Password").fill("open sesame")
        with public.expect_download() as got:
            public.get_by_role("button", name="Download").click()
        assert Path(got.value.path()).read_bytes() == notes.read_bytes()
        public.screenshot(path=shots / f"{site.name}-share-page-phone.png")

        share.get_by_role("button", name="Revoke").click()
        expect(share.get_by_text("No active links.")).to_be_visible()
        public.goto(link)
        expect(public.get_by_role("heading", name="Link unavailable")).to_be_visible()
    finally:
        stranger.close()
    share.get_by_role("button", name="Close").click()

    # A server-side copy.
    row(page, "photo.png").get_by_role("button", name="Copy").click()
    expect(dialog(page).get_by_label("Name of the copy")).to_have_value("Copy of photo.png")
    dialog(page).get_by_role("button", name="Copy").click()
    expect(row(page, "Copy of photo.png")).to_be_visible()

    # Delete several at once, with a confirmation.
    for name in ("minutes.txt", "photo.png", "Copy of photo.png"):
        page.get_by_role("checkbox", name=f"Select {name}", exact=True).check()
    page.get_by_role("button", name="Delete selected (3)").click()
    expect(dialog(page)).to_contain_text("minutes.txt")
    dialog(page).get_by_role("button", name="Delete").click()
    file_boxes = page.get_by_role("table").get_by_role(
        "checkbox", name=re.compile("^Select (?!all)")
    )
    expect(file_boxes).to_have_count(0)

    # Phone width: the listing still works.
    page.set_viewport_size(PHONE)
    page.get_by_role("link", name="Projects").click()
    expect(row(page, "dropped.md")).to_be_visible()
    page.screenshot(path=shots / f"{site.name}-files-phone.png")
    page.get_by_role("button", name="Delete folder").click()
    dialog(page).get_by_role("button", name="Delete folder").click()
    expect(page.get_by_role("link", name="Projects")).to_have_count(0)
    assert site.api("GET", "/files").json()["files"] == []
    if site.key:
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert page.evaluate("sessionStorage.length") == 0


def cut_second_patch(page: Page) -> None:
    """Fail each big upload's second PATCH as if the network had gone."""
    patches: list[str] = []

    def handle(route: Route) -> None:
        if route.request.method == "PATCH":
            patches.append(route.request.url)
            if len(patches) % 2 == 0:
                route.abort("internetdisconnected")
                return
        route.continue_()

    page.route("**/uploads/**", handle)


def upload_item(page: Page, name: str) -> Locator:
    return page.get_by_role("listitem").filter(has_text=name)


def test_a_big_upload_resumes_after_the_connection_drops(
    site: Site, context: BrowserContext, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(TUS_SIZE))
    page = open_app(context, site)
    cut_second_patch(page)
    pick_files(page, [big])
    expect(upload_item(page, "big.bin")).to_contain_text("Connection lost")
    page.unroute("**/uploads/**")

    # A reload forgets everything but the upload's URL (in localStorage, no key there).
    page.reload()
    expect(page.get_by_role("button", name="Upload")).to_be_visible()
    stored = page.evaluate("JSON.stringify(localStorage)")
    assert "/uploads/" in stored and (site.key is None or site.key not in stored)
    pick_files(page, [big])
    expect(upload_item(page, "big.bin")).to_contain_text("Resumed from 8.0 MiB", timeout=60_000)
    uploaded(page, "big.bin")
    assert page.evaluate("localStorage.length") == 0
    listed = site.api("GET", "/files").json()["files"]
    (record,) = [f for f in listed if f["file_name"] == "big.bin"]
    assert record["file_size"] == TUS_SIZE
    assert record["sha256"] == hashlib.sha256(big.read_bytes()).hexdigest()

    # Back online, a paused upload goes on by itself.
    again = tmp_path / "again.bin"
    shutil.copyfile(big, again)
    cut_second_patch(page)
    pick_files(page, [again])
    expect(upload_item(page, "again.bin")).to_contain_text("Connection lost")
    page.unroute("**/uploads/**")
    context.set_offline(True)
    context.set_offline(False)
    expect(upload_item(page, "again.bin")).to_contain_text("Resumed from 8.0 MiB")
    uploaded(page, "again.bin")

    # Cancelling a paused upload ends it on the server too, and forgets it here.
    other = tmp_path / "other.bin"
    shutil.copyfile(big, other)
    cut_second_patch(page)
    pick_files(page, [other])
    item = upload_item(page, "other.bin")
    expect(item).to_contain_text("Connection lost")
    upload_url = page.evaluate("Object.values(localStorage)[0]")
    item.get_by_role("button", name="Cancel").click()
    expect(item).to_contain_text("Cancelled")
    page.wait_for_function("localStorage.length === 0")
    assert site.api("GET", upload_url).status_code == 404
    page.unroute("**/uploads/**")
    for leftover in site.api("GET", "/files").json()["files"]:
        site.api("DELETE", f"/files/{leftover['file_id']}")


def test_html_and_svg_download_instead_of_rendering(site: Site, context: BrowserContext) -> None:
    for name, content_type in (("page.html", "text/html"), ("logo.svg", "image/svg+xml")):
        made = site.api(
            "POST",
            "/files/upload",
            params={"file_name": name},
            data=b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
            headers={"Content-Type": content_type},
        )
        assert made.status_code == 201, made.text
    page = open_app(context, site)
    for name in ("page.html", "logo.svg"):
        with page.expect_download() as got:
            row(page, name).get_by_role("button", name=name).click()
        assert got.value.suggested_filename == name
        expect(page.get_by_role("dialog")).to_be_hidden()
    for leftover in site.api("GET", "/files").json()["files"]:
        site.api("DELETE", f"/files/{leftover['file_id']}")


def test_escape_closes_a_pdf_preview_once_the_viewer_has_drawn_it(
    site: Site, context: BrowserContext
) -> None:
    """Chromium's PDF viewer takes the focus when it has drawn the file; Escape must
    still reach the dialog, so the page hands the focus back to Close."""
    pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    pdf += b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    made = site.api(
        "POST",
        "/files/upload",
        params={"file_name": "report.pdf"},
        data=pdf,
        headers={"Content-Type": "application/pdf"},
    )
    assert made.status_code == 201, made.text
    page = open_app(context, site)
    # The page's window loses the focus when the viewer (a frame) takes it.
    page.evaluate("() => window.addEventListener('blur', () => { window.viewerTookFocus = true; })")
    row(page, "report.pdf").get_by_role("button", name="report.pdf").focus()
    page.keyboard.press("Enter")
    expect(dialog(page).locator("iframe")).to_be_visible()
    page.wait_for_function("() => window.viewerTookFocus === true")
    expect(dialog(page).get_by_role("button", name="Close")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog(page)).to_be_hidden()
    site.api("DELETE", f"/files/{made.json()['file_id']}")


def test_a_refusal_shows_the_servers_message(
    site: Site, context: BrowserContext, tmp_path: Path
) -> None:
    huge = tmp_path / "huge.bin"
    with open(huge, "wb") as sparse:
        sparse.truncate(100 * 1024 * 1024)  # over the 64 MiB quota; no disk used
    page = open_app(context, site)
    pick_files(page, [huge])
    item = upload_item(page, "huge.bin")
    expect(item).to_contain_text("exceed your storage quota")
    expect(item.get_by_role("button", name="Cancel")).to_be_hidden()


def test_paging_and_the_name_filter(site: Site, context: BrowserContext) -> None:
    """A folder of 205 files shows 200 and a Load more button; the filter asks the server."""
    parts = [("file", (f"file-{number:03d}.txt", b"x", "text/plain")) for number in range(205)]
    made = site.api("POST", "/files/upload", params={"folder": "/many"}, files=parts)
    assert made.status_code == 201, made.text
    page = open_app(context, site)
    page.goto(site.url + "/#/many")
    rows = page.get_by_role("table").get_by_role("checkbox", name=re.compile("^Select file-"))
    expect(rows).to_have_count(200)
    page.get_by_role("button", name="Load more").click()
    expect(rows).to_have_count(205)
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    page.get_by_role("searchbox", name="Filter by name").fill("file-01")
    expect(rows).to_have_count(10)
    assert site.api("DELETE", "/folders", params={"path": "/many", "recursive": "true"}).ok


def test_sorting_asks_the_server_for_every_file_of_the_folder(
    site: Site, context: BrowserContext, shots: Path
) -> None:
    """205 files: a header's order holds across the first page of 200 and Load more,
    where sorting only the loaded page would not."""
    # Mixed case (binary order would put every "Q" first) and distinct sizes in an
    # order of their own (37 and 205 share no factor).
    names = [f"{'Q' if n % 2 else 'q'}-{n:03d}.txt" for n in range(205)]
    sizes = {name: (n * 37) % 205 + 1 for n, name in enumerate(names)}
    parts = [("file", (name, b"x" * sizes[name], "text/plain")) for name in names]
    made = site.api("POST", "/files/upload", params={"folder": "/sorted"}, files=parts)
    assert made.status_code == 201, made.text
    page = open_app(context, site)
    page.goto(site.url + "/#/sorted")
    shown = page.get_by_role("table").get_by_role("button", name=re.compile(r"^[qQ]-\d{3}\.txt$"))
    expect(shown).to_have_count(200)
    header = page.get_by_role("columnheader", name="Name")

    page.get_by_role("button", name="Name", exact=True).click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect(shown).to_have_text(names[:200])
    page.get_by_role("button", name="Load more").click()
    expect(shown).to_have_text(names)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=shots / f"{site.name}-sorted-by-name-desktop.png")

    page.get_by_role("button", name="Name", exact=True).click()
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(shown).to_have_text(names[::-1][:200])

    largest = sorted(names, key=lambda name: sizes[name], reverse=True)
    page.get_by_role("button", name="Size", exact=True).click()
    expect(page.get_by_role("columnheader", name="Size")).to_have_attribute(
        "aria-sort", "descending"
    )
    expect(shown).to_have_text(largest[:200])
    page.get_by_role("button", name="Load more").click()
    expect(shown).to_have_text(largest)
    page.get_by_role("button", name="Size", exact=True).click()
    expect(shown).to_have_text(largest[::-1][:200])

    # Each row's buttons keep their verb as their name and say which file they act on.
    download = row(page, "q-000.txt").get_by_role("button", name="Download", exact=True)
    expect(download).to_have_accessible_description("q-000.txt")

    # Enter in a delete confirmation cancels: the focus starts on Cancel.
    row(page, "q-000.txt").get_by_role("button", name="Delete", exact=True).click()
    expect(dialog(page).get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog(page)).to_be_hidden()
    expect(row(page, "q-000.txt")).to_be_visible()
    assert site.api("DELETE", "/folders", params={"path": "/sorted", "recursive": "true"}).ok


def test_a_dropped_folder_uploads_with_its_tree(site: Site, context: BrowserContext) -> None:
    """Dropping a folder walks its entries (the File System API a real drop hands over)."""
    page = open_app(context, site)
    page.evaluate(
        """() => {
            const file = (name, text) => ({
                isFile: true, isDirectory: false, name,
                file: (ok) => ok(new File([text], name, {type: "text/plain"})),
            });
            const dir = (name, children) => {
                let given = false;
                return {
                    isFile: false, isDirectory: true, name,
                    createReader: () => ({
                        readEntries: (ok) => { ok(given ? [] : children); given = true; },
                    }),
                };
            };
            const tree = dir("album", [file("a.txt", "A"), dir("inner", [file("b.txt", "BB")])]);
            const drop = new Event("drop", {bubbles: true, cancelable: true});
            Object.defineProperty(drop, "dataTransfer", {
                value: {items: [{webkitGetAsEntry: () => tree}], files: []},
            });
            document.getElementById("drop-zone").dispatchEvent(drop);
        }"""
    )
    uploaded(page, "a.txt")
    uploaded(page, "b.txt")
    page.get_by_role("link", name="album").click()
    expect(row(page, "a.txt")).to_be_visible()
    page.get_by_role("link", name="inner").click()
    expect(row(page, "b.txt")).to_be_visible()
    assert site.api("DELETE", "/folders", params={"path": "/album", "recursive": "true"}).ok


def test_pages_run_within_their_content_security_policy(
    site: Site, context: BrowserContext, shots: Path
) -> None:
    """The app, a link's page and Swagger UI at /docs work, and the browser refuses nothing."""
    refused: list[str] = []
    missing: list[str] = []
    page = context.new_page()
    page.on("console", lambda message: refused.append(message.text))
    page.on("pageerror", lambda error: refused.append(str(error)))
    # Anything a page asks for itself (a favicon too) is there; /d/not-a-token is a 404 page.
    page.on(
        "response",
        lambda answer: (
            answer.status == 404
            and answer.request.resource_type != "document"
            and missing.append(answer.url)
        ),
    )
    page.goto(site.url + "/docs")
    expect(page.get_by_role("heading", name=re.compile("FILE DROP"))).to_be_visible()
    expect(page.get_by_text("/files/upload").first).to_be_visible()
    page.goto(site.url + "/")
    if site.key:
        page.set_viewport_size(PHONE)
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        page.screenshot(path=shots / f"{site.name}-sign-in-phone.png")
    else:
        expect(page.get_by_role("button", name="Upload")).to_be_visible()
    page.goto(site.url + "/d/not-a-token")
    expect(page.get_by_role("heading", name="Link unavailable")).to_be_visible()
    csp_messages = [text for text in refused if "Content Security Policy" in text]
    assert csp_messages == [], csp_messages
    assert missing == []
