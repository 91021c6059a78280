"""Coupons and purchases from the dashboard, through the API: an operator's coupon made on
the coupons page is redeemed on the credits page, and a purchase without Stripe configured
shows the API's refusal."""

from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.ui.forms import FormClient
from tests.ui.test_sign_in import PASSWORD, dashboard, with_password


async def test_an_operators_coupon_is_redeemed_on_the_credits_page(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    await with_password(engine, "ops@example.com", role="admin")
    buyer = await with_password(engine, "buyer@example.com")
    async with dashboard(database_url, upstream) as (ops, _):
        assert (await ops.sign_in("ops@example.com", PASSWORD)).status_code == 303
        made = await ops.submit(
            "/ui/admin/coupons", "/ui/admin/coupons", code="WELCOME5", kind="credits", credits="5"
        )
        assert made.status_code == 303
        assert "WELCOME5" in (await ops.http.get("/ui/admin/coupons")).text
        user = FormClient(str(ops.http.base_url))
        try:
            assert (await user.sign_in("buyer@example.com", PASSWORD)).status_code == 303
            redeemed = await user.submit("/ui/credits", "/ui/credits/coupon", code="WELCOME5")
            assert redeemed.status_code == 200
            assert "Coupon WELCOME5 added $5.00" in redeemed.text
            twice = await user.submit("/ui/credits", "/ui/credits/coupon", code="WELCOME5")
            assert twice.status_code == 400
            unpaid = await user.submit("/ui/credits", "/ui/credits/checkout", amount="20")
            assert unpaid.status_code == 503
            assert "Payments are not available" in unpaid.text
        finally:
            await user.close()
    assert (await accounts.get_user(engine, user_id=buyer)).balance_units == 5 * 10**9
