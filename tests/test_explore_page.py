"""The explorable page computes in the browser what ropelab computes: moved to several settings in
a headless browser, each number it prints agrees with the constructions and the theory."""

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from ropelab.constructions import frequencies, positional_heads, relative_position
from ropelab.theory import semantic_channels

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "explore.md"
SCRIPT = ROOT / "docs" / "javascripts" / "explore.js"
SCRIPT_TAG = '<script src="javascripts/explore.js"></script>'
EPS = 0.01
PRINTED_DIGITS = 1e-5  # the page prints 6 significant digits
# (d, log10 theta, p, log2 context): plain RoPE, Gemma's p = 0.75, small heads, large bases,
# the longest context the page offers, and p = 0 (nothing rotates).
SETTINGS = [(128, 4.0, 1.0, 12), (256, 4.0, 0.75, 13), (64, 6.0, 0.5, 10), (32, 2.0, 1.0, 8),
            (512, 5.5, 0.25, 15), (96, 3.0, 0.0, 9)]
CONTROLS = ("explore-d", "explore-log-theta", "explore-p", "explore-log-context")


def harness(folder: Path, script: str) -> str:
    """The page's HTML block, as docs/explore.md holds it, in a bare file beside its script."""
    text = PAGE.read_text()
    start, end = text.index('<div id="explore"'), text.index(SCRIPT_TAG) + len(SCRIPT_TAG)
    (folder / "javascripts").mkdir(exist_ok=True)
    (folder / "javascripts" / "explore.js").write_text(script)
    html = folder / "explore.html"
    html.write_text(f'<!doctype html>\n<html><head><meta charset="utf-8"><title>explore</title></head>'
                    f'<body>\n{text[start:end]}\n</body></html>\n')
    return html.as_uri()


@pytest.fixture(scope="module")
def browser():
    from helpers.browser import chromium_driver

    if shutil.which("chromium") is None and shutil.which("apt-get") is None:
        pytest.fail("chromium is needed for the browser test (apt-get install chromium chromium-driver)")
    driver = chromium_driver(script_timeout=60)
    try:
        yield driver
    finally:
        driver.quit()


def move(driver, control: str, value: float) -> None:
    """Set a slider as a drag would: its value, then the input event the page listens to."""
    driver.execute_script("const el = document.getElementById(arguments[0]); el.value = String(arguments[1]);"
                          "el.dispatchEvent(new Event('input', {bubbles: true}));", control, value)


def page_state(driver) -> tuple[dict[str, str], dict]:
    ids = driver.execute_script(
        "const out = {}; document.querySelectorAll('#explore [id]').forEach(e => {"
        " if (!['INPUT', 'CANVAS', 'FORM', 'DIV', 'H2'].includes(e.tagName)) out[e.id] = e.textContent; });"
        " return out;")
    return ids, driver.execute_script("return window.ropelabExplore;")


def expected(d: int, theta: float, p: float, n: int, q: np.ndarray, k: np.ndarray) -> dict[str, float]:
    """Every number the page prints, from ropelab's constructions and theory."""
    freqs = frequencies.p_rope(d, theta, p)
    kept = frequencies.p_rope_pairs(d, p)
    ones = np.ones(d)
    all_ones = relative_position.logit_curve(ones, ones, freqs, n) / d
    gaussian = relative_position.logit_curve(q, k, freqs, n) / d
    quarter = max(2, n // 4)

    def ratio(curve):
        return np.mean(curve[n - quarter:] ** 2) / np.mean(curve[1:quarter] ** 2)

    ranges = [semantic_channels.semantic_range(float(g)) for g in freqs]
    out = {"explore-kept": kept, "explore-frozen": d // 2 - kept, "explore-ones-end": all_ones[-1],
           "explore-gauss-end": gaussian[-1], "explore-ones-ratio": ratio(all_ones),
           "explore-gauss-ratio": ratio(gaussian), "explore-band": min(16, kept),
           "explore-unbroken": sum(r > n for r in ranges)}
    if kept:
        psi = positional_heads.band_vector(d, range(min(16, kept)))
        head = positional_heads.smallest_sharp_scale(psi, freqs, n, EPS, distance=0)
        out.update({"explore-gap": head.gap, "explore-s2": head.scale_squared,
                    "explore-sufficient": positional_heads.sufficient_scale_squared(psi, freqs, n, EPS),
                    "explore-slowest-pair": kept - 1, "explore-slowest-g": freqs[kept - 1],
                    "explore-breaks-at": ranges[kept - 1]})
    else:
        out.update({"explore-slowest-pair": "none", "explore-breaks-at": "never", "explore-s2": "none"})
    return out


def mismatches(printed: dict[str, str], want: dict[str, float]) -> list[str]:
    """The printed numbers that disagree with ropelab's (integers exactly, reals to the printed digits)."""
    bad = []
    for key, value in want.items():
        shown = printed.get(key)
        if shown is None:
            bad.append(f"{key}: not on the page")
        elif isinstance(value, str):
            if not shown.startswith(value):
                bad.append(f"{key}: page {shown!r}, ropelab {value!r}")
        elif isinstance(value, (int, np.integer)):
            if shown != str(value):
                bad.append(f"{key}: page {shown}, ropelab {value}")
        else:
            try:
                number = float(shown)
            except ValueError:
                bad.append(f"{key}: page {shown!r} is not a number, ropelab {value:.6g}")
                continue
            if not math.isfinite(number) or abs(number - value) > PRINTED_DIGITS * abs(value) + 1e-12:
                bad.append(f"{key}: page {shown}, ropelab {value:.9g}")
    return bad


def run_settings(driver, url: str, settings) -> list[tuple[tuple, list[str], dict, dict]]:
    driver.get(url)
    results = []
    for setting in settings:
        for control, value in zip(CONTROLS, setting):
            move(driver, control, value)
        printed, state = page_state(driver)
        s = state["settings"]
        assert (s["d"], s["p"], s["n"]) == (setting[0], setting[2], 2 ** setting[3]), "the controls moved"
        want = expected(s["d"], s["theta"], s["p"], s["n"], np.asarray(state["q"]), np.asarray(state["k"]))
        results.append((setting, mismatches(printed, want), printed, want))
    return results


def test_page_agrees_with_ropelab_at_every_setting(browser, tmp_path):
    results = run_settings(browser, harness(tmp_path, SCRIPT.read_text()), SETTINGS)
    for setting, bad, _, _ in results:
        assert not bad, f"at (d, log theta, p, log2 N) = {setting}: " + "; ".join(bad)
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors
    by_setting = {setting: (printed, want) for setting, _, printed, want in results}
    # Prop 3.2 on the page itself: at plain RoPE the all-ones curve decays, the Gaussian one does not
    printed, _ = by_setting[(256, 4.0, 0.75, 13)]
    plain, _ = by_setting[(128, 4.0, 1.0, 12)]
    assert float(plain["explore-ones-ratio"]) < 0.2 < float(plain["explore-gauss-ratio"])
    # Thm 6.1: p-RoPE's slowest rotating pair breaks far sooner than RoPE's at the same d and theta
    assert int(printed["explore-breaks-at"]) < semantic_channels.semantic_range(float(frequencies.rope(256, 1e4)[-1])) / 5


def test_keyboard_moves_a_slider_and_the_numbers_follow(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(harness(tmp_path, SCRIPT.read_text()))
    before, _ = page_state(browser)
    browser.find_element(By.ID, "explore-p").send_keys(Keys.ARROW_LEFT)  # p: 1 -> 0.95
    after, state = page_state(browser)
    assert state["settings"]["p"] == 0.95 and after["explore-kept"] != before["explore-kept"]
    s = state["settings"]
    assert not mismatches(after, expected(s["d"], s["theta"], s["p"], s["n"], np.asarray(state["q"]),
                                          np.asarray(state["k"])))


@pytest.mark.parametrize("fault, broken", [
    ("q[m] * k[m + h] - q[m + h] * k[m]", "q[m + h] * k[m] - q[m] * k[m + h]"),  # R^r instead of R^-r
    ("Math.PI / (2 * g) + 1.5", "Math.PI / (2 * g) + 0.5"),  # the breaking context one token early
    ("if (lastRowWeight(middle) < 1 - EPS)", "if (lastRowWeight(middle) < 1 - 2 * EPS)"),  # a blunter head
    ("const kept = Math.floor((p * d) / 2);", "const kept = Math.round((p * d) / 2);"),  # p-RoPE's count
])
def test_comparison_rejects_a_planted_fault(browser, tmp_path, fault, broken):
    script = SCRIPT.read_text()
    assert fault in script
    results = run_settings(browser, harness(tmp_path, script.replace(fault, broken)),
                           [(256, 4.0, 0.75, 13), (96, 3.0, 0.6, 9), (64, 6.0, 0.5, 10)])
    assert any(bad for _, bad, _, _ in results), f"the fault {broken!r} went unnoticed"
