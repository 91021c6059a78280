"""What a person does in the dashboard, in headless Chromium against a gateway over real HTTP:
sign up, sign in (and a wrong password), keys used with the openai SDK and seen in usage at
their exact cost, rotation and revocation, the playground's stream, an operator's credit
adjustment and its audit row, a password reset by mail, and forms without their CSRF token."""

import asyncio
import re

import openai
import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.e2e.support import HI, HI_COST, REPLY
from tests.ui.conftest import PASSWORD, Dashboard, shoot, sign_in

HI_COST_CREDITS = f"{HI_COST / 10**9:.6f}"  # 0.000046


def sdk(dashboard: Dashboard, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{dashboard.base_url}/v1", api_key=key, max_retries=0)


async def test_sign_up_starts_the_trial_and_a_wrong_password_is_refused_and_audited(
    page: Page, dashboard: Dashboard
) -> None:
    await page.goto("/ui/signup")
    await shoot(page, "signup")
    await page.fill("#email", "new@example.com")
    await page.fill("#password", PASSWORD)
    await page.click("[data-testid=signup-form] button[type=submit]")
    await page.wait_for_url("**/ui/")
    await expect(page.get_by_test_id("balance")).to_have_text("$10.00")  # the free trial
    await expect(page.get_by_test_id("trial")).to_contain_text("active")
    await page.click("text=Sign out")
    await page.wait_for_url("**/ui/signin?note=signed-out")

    await page.fill("#email", "new@example.com")
    await page.fill("#password", "not the password")
    async with page.expect_response("**/ui/signin") as answer:
        await page.click("[data-testid=signin-form] button[type=submit]")
    assert (await answer.value).status == 401
    await expect(page.get_by_test_id("error")).to_have_text("Wrong email or password.")
    failed = await dashboard.audit("auth.signin_failed")
    assert [row["details"] for row in failed][-1] == (
        '{"reason":"wrong password","method":"password"}'
    )

    # Keyboard only: the skip link first, then the form's fields in order, Enter sends it.
    await page.goto("/ui/signin")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to content"
    await page.focus("#email")
    await page.keyboard.type("new@example.com")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/ui/")
    await expect(page.get_by_test_id("who")).to_have_text("new@example.com")


async def test_a_key_made_in_the_dashboard_calls_with_the_sdk_and_shows_in_usage(
    page: Page, dashboard: Dashboard
) -> None:
    await dashboard.user("keys@example.com", credits="10")
    await sign_in(page, "keys@example.com")
    await page.goto("/ui/keys")
    await page.fill("#name", "sdk")
    await page.check("input[name=scopes][value=chat]")
    await page.fill("#spend_limit", "5")
    await shoot(page, "keys")
    await page.click("[data-testid=new-key] button[type=submit]")
    secret = (await page.get_by_test_id("secret").text_content() or "").strip()
    assert secret.startswith("gw_live_")
    await shoot(page, "key-created")

    answer = await sdk(dashboard, secret).chat.completions.create(
        model="fake/fake-model", messages=HI
    )
    assert answer.choices[0].message.content == REPLY
    await dashboard.flush()
    await page.goto("/ui/usage")
    by_key = page.get_by_test_id("usage-key")
    await expect(by_key.locator("tr", has_text="sdk").locator("[data-cost]")).to_have_text(
        HI_COST_CREDITS
    )
    await expect(page.get_by_test_id("usage-cost")).to_have_text(f"${HI_COST_CREDITS}")
    await shoot(page, "usage")

    # Rotate with no grace: the new secret works, the old one is refused at once.
    await page.goto("/ui/keys")
    row = page.locator("[data-testid=keys] tr", has_text="sdk")
    await row.locator("input[name=grace_seconds]").fill("0")
    await row.get_by_role("button", name="Rotate key sdk").click()
    rotated = (await page.get_by_test_id("secret").text_content() or "").strip()
    assert rotated.startswith("gw_live_") and rotated != secret
    with pytest.raises(openai.PermissionDeniedError):
        await sdk(dashboard, secret).chat.completions.create(model="fake/fake-model", messages=HI)
    again = await sdk(dashboard, rotated).chat.completions.create(
        model="fake/fake-model", messages=HI
    )
    assert again.choices[0].message.content == REPLY

    # Revoke: the dashboard asks first, then the key is refused.
    await page.goto("/ui/keys")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    active = page.locator("[data-testid=keys] tr[data-status=active]", has_text="sdk")
    await active.get_by_role("button", name="Revoke key sdk").click()
    await page.wait_for_url("**/ui/keys?note=revoked")
    await expect(
        page.locator("[data-testid=keys] tr[data-status=active]", has_text="sdk")
    ).to_have_count(0)
    with pytest.raises(openai.AuthenticationError):
        await sdk(dashboard, rotated).chat.completions.create(model="fake/fake-model", messages=HI)


async def test_the_playground_streams_and_shows_what_the_call_was_charged(
    page: Page, dashboard: Dashboard
) -> None:
    await dashboard.user("play@example.com", credits="1")
    await sign_in(page, "play@example.com")
    await page.goto("/ui/playground")
    await page.select_option("#model", "fake/fake-model")
    await page.fill("#content", "say hi please")
    async with page.expect_response("**/ui/playground/chat") as streamed:
        await page.click("#send")
    assert (await streamed.value).headers["content-type"].startswith("text/event-stream")
    await expect(page.locator("#transcript .msg-assistant .content")).to_have_text(REPLY)
    await expect(page.get_by_test_id("playground-cost")).to_have_text(f"{HI_COST_CREDITS} credits")
    await expect(page.locator("#stat-provider")).to_have_text("fake")
    await shoot(page, "playground")

    await page.goto("/ui/history")
    await page.get_by_role("link", name="say hi please").click()
    await expect(page.locator(".msg-assistant .content")).to_have_text(REPLY)
    await page.goto("/ui/")
    await expect(page.get_by_test_id("balance")).to_have_text(f"${1 - HI_COST / 10**9:.6f}")


async def test_an_operator_adjusts_credits_and_sees_the_audit_row(
    page: Page, dashboard: Dashboard
) -> None:
    await dashboard.user("ops@example.com", role="admin")
    customer = await dashboard.user("customer@example.com", credits="2")
    await sign_in(page, "ops@example.com")
    await page.goto("/ui/admin/users?q=customer")
    await shoot(page, "admin-users")
    await page.get_by_role("link", name="customer@example.com").click()
    await page.fill("#amount", "5")
    await page.fill("#reason", "goodwill after the outage")
    await page.click("[data-testid=adjust-credits] button[type=submit]")
    await page.wait_for_url(f"**/ui/admin/users/{customer}?note=credits")
    await expect(page.get_by_test_id("user-balance")).to_have_text("$7.00")

    await page.goto(f"/ui/admin/audit?event=credits.adjusted&target_id={customer}")
    row = page.locator("[data-testid=audit] tbody tr").first
    await expect(row).to_contain_text("credits.adjusted")
    await expect(row).to_contain_text("goodwill after the outage")
    await expect(row).to_contain_text("127.0.0.1")
    await shoot(page, "admin-audit")
    for path, name in (
        ("/ui/admin/providers", "admin-providers"),
        ("/ui/admin/traffic", "admin-traffic"),
        ("/ui/admin/requests", "admin-requests"),
        ("/ui/models", "models"),
    ):
        response = await page.goto(path)
        assert response is not None and response.status == 200, path
        await shoot(page, name)
    await expect(page.get_by_test_id("models")).to_contain_text("demo/demo-chat")


async def test_operator_pages_check_the_apis_permissions(page: Page, dashboard: Dashboard) -> None:
    await dashboard.user("plain@example.com")
    await sign_in(page, "plain@example.com")
    await expect(page.locator("nav.side")).not_to_contain_text("Audit log")
    response = await page.goto("/ui/admin/audit")
    assert response is not None and response.status == 403
    await expect(page.get_by_test_id("refused")).to_contain_text("'audit:read' permission")


async def test_a_password_is_reset_through_the_mailed_link(
    page: Page, dashboard: Dashboard
) -> None:
    await dashboard.user("forgetful@example.com")
    await page.goto("/ui/forgot")
    await page.fill("#email", "forgetful@example.com")
    await page.click("button[type=submit]")
    await page.wait_for_url("**/ui/signin?note=reset-sent")
    (mail,) = await dashboard.mails_to("forgetful@example.com")
    link = re.search(r"http://\S+/ui/reset/\S+", mail)
    assert link is not None
    await page.goto(link.group(0))
    await page.fill("#password", "a brand new passphrase")
    await page.click("button[type=submit]")
    await page.wait_for_url("**/ui/signin?note=reset")
    await sign_in(page, "forgetful@example.com", "a brand new passphrase")
    await page.goto(link.group(0))  # used once only
    await expect(page.get_by_test_id("error")).to_contain_text("not valid any more")


async def test_a_form_post_without_its_csrf_token_is_refused(
    context: BrowserContext, page: Page, dashboard: Dashboard
) -> None:
    await dashboard.user("csrf@example.com")
    await sign_in(page, "csrf@example.com")
    # The browser sends the session cookie, but not the page's token.
    refused = await context.request.post("/ui/keys", form={"name": "forged"})
    assert refused.status == 403
    forged_origin = await context.request.post(
        "/ui/keys",
        form={
            "name": "forged",
            "csrf_token": await page.locator("[name=csrf_token]").first.input_value(),
        },
        headers={"origin": "http://evil.example"},
    )
    assert forged_origin.status == 403
    await page.goto("/ui/keys")
    await expect(page.locator("[data-testid=keys]")).not_to_contain_text("forged")


async def test_phone_width_and_dark_theme(context: BrowserContext, dashboard: Dashboard) -> None:
    await dashboard.user("phone@example.com", credits="3")
    phone = await context.new_page()
    await phone.set_viewport_size({"width": 390, "height": 844})
    await phone.emulate_media(color_scheme="dark")
    await sign_in(phone, "phone@example.com")
    background = await phone.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(17, 19, 24)"
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the overview scrolls sideways at phone width"
    await shoot(phone, "overview-phone-dark")
    await phone.click("[data-theme-toggle]")
    light = await phone.evaluate("getComputedStyle(document.body).backgroundColor")
    assert light == "rgb(247, 247, 248)"
