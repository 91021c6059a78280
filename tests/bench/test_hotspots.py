"""A py-spy profile is summarised as self time per frame and per package."""

from hotspots import NATIVE, area, summarise

ROOT = 'process 7:"gatewayz serve";run (/v/lib/python3.11/asyncio/runners.py)'
COLLAPSED = "\n".join(
    (
        f"{ROOT};send (/v/site-packages/uvicorn/protocols/http/httptools_impl.py) 6",
        f"{ROOT};finish (/w/src/gatewayz/relay/settlement.py) 3",
        'process 7:"gatewayz serve" 1',
    )
)


def test_each_sample_counts_once_for_the_frame_that_was_running() -> None:
    profile = summarise(COLLAPSED)
    assert profile.samples == 10
    assert profile.frames["send (uvicorn: httptools_impl.py)"] == 6
    assert profile.frames["finish (gatewayz/relay: settlement.py)"] == 3
    assert profile.frames[NATIVE] == 1
    assert profile.areas == {"uvicorn": 6, "gatewayz/relay": 3, NATIVE: 1}


def test_the_gateways_own_code_is_told_apart_by_subpackage() -> None:
    assert area("/w/src/gatewayz/billing/holds.py") == "gatewayz/billing"
    assert area("/w/src/gatewayz/app.py") == "gatewayz"
    assert area("/v/site-packages/starlette/routing.py") == "starlette"
    assert area("/usr/lib/python3.11/json/decoder.py") == "python (other)"
