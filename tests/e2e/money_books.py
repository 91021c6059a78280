"""The money invariants, checked on the database and the gateways' logs once a seeded run has
settled and every gateway process has stopped (see test_money_invariants.py).

Every problem found is listed, not just the first, with the call or user it concerns.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.store.tables import (
    api_keys,
    gateway_processes,
    ledger,
    payments,
    process_holds,
    request_logs,
    users,
)
from tests.e2e.money_world import Call, Record

SETTLED = ("paid", "partially_refunded", "refunded")
KINDS = {"grant", "admin_adjustment", "purchase", "refund", "usage"}


@dataclass
class Books:
    """What the database holds about the run's users once the gateways have stopped."""

    users: dict[int, dict[str, Any]]
    keys: dict[int, dict[str, Any]]
    ledger: list[dict[str, Any]]  # oldest first
    logs: list[dict[str, Any]]
    payments: dict[str, dict[str, Any]]  # by checkout session
    process_holds: list[dict[str, Any]]
    processes: list[dict[str, Any]]


async def read_books(engine: AsyncEngine, user_ids: list[int]) -> Books:
    def rows(result: Any) -> list[dict[str, Any]]:
        return [dict(row._mapping) for row in result]

    async with engine.connect() as conn:
        found = rows(await conn.execute(select(users).where(users.c.id.in_(user_ids))))
        keys = rows(await conn.execute(select(api_keys).where(api_keys.c.user_id.in_(user_ids))))
        entries = rows(
            await conn.execute(
                select(ledger).where(ledger.c.user_id.in_(user_ids)).order_by(ledger.c.id)
            )
        )
        logs = rows(
            await conn.execute(select(request_logs).where(request_logs.c.user_id.in_(user_ids)))
        )
        paid = rows(await conn.execute(select(payments).where(payments.c.user_id.in_(user_ids))))
        holds = rows(await conn.execute(select(process_holds)))
        processes = rows(await conn.execute(select(gateway_processes)))
    return Books(
        {row["id"]: row for row in found},
        {row["id"]: row for row in keys},
        entries,
        logs,
        {row["checkout_session_id"]: row for row in paid},
        holds,
        processes,
    )


def read_log_lines(paths: list[Path]) -> dict[str, list[dict[str, Any]]]:
    """Each gateway's JSON log lines (a line that is not JSON is kept as its message)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for path in paths:
        lines = found[path.name] = []
        for text in path.read_text().splitlines():
            try:
                lines.append(orjson.loads(text))
            except orjson.JSONDecodeError:
                lines.append({"level": "unparsed", "message": text})
    return found


class Checker:
    """Checks the books against what the run did; `problems` lists what does not hold."""

    def __init__(self, books: Books, record: Record, logs: dict[str, list[dict[str, Any]]]) -> None:
        self.books = books
        self.record = record
        self.logs = logs
        self.log_lines = [line for lines in logs.values() for line in lines]
        self.problems: list[str] = []
        self._logs_by_request = {row["request_id"]: row for row in books.logs}
        self._logs_by_key: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in books.logs:
            self._logs_by_key[row["key_id"]].append(row)
        self._calls_by_request = {c.request_id: c for c in record.calls if c.request_id}
        self._calls_by_key = {
            c.key.key_id: c for c in record.calls if c.how in ("abandon", "leave")
        }

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def check(self) -> list[str]:
        self.check_balances()
        self.check_nothing_held()
        self.check_calls()
        self.check_ledger_explained()
        self.check_shortfalls()
        self.check_debts()
        self.check_keys()
        self.check_payments()
        self.check_logs()
        return self.problems

    # -- balances and holds ----------------------------------------------------------------

    def check_balances(self) -> None:
        """balance == start + every ledger row since, row by row; a decrease other than a
        call's charge never takes a balance below zero; a debt is never more than the
        shortfalls recorded."""
        entries: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for entry in self.books.ledger:
            entries[entry["user_id"]].append(entry)
        for user_id, user in self.books.users.items():
            running = 0
            for entry in entries[user_id]:
                running += entry["amount_units"]
                if entry["balance_after_units"] != running:
                    self.problem(
                        f"user {user_id}: ledger row {entry['id']} says balance "
                        f"{entry['balance_after_units']}, the rows before sum to {running}"
                    )
                    running = entry["balance_after_units"]
                if entry["amount_units"] < 0 and entry["kind"] != "usage" and running < 0:
                    self.problem(
                        f"user {user_id}: {entry['kind']} row {entry['id']} took the "
                        f"balance below zero ({running})"
                    )
            total = sum(entry["amount_units"] for entry in entries[user_id])
            if user["balance_units"] != total:
                self.problem(
                    f"user {user_id}: balance {user['balance_units']} != sum of the ledger {total}"
                )
            short = sum(entry["shortfall_units"] for entry in entries[user_id])
            if -user["balance_units"] > short:
                self.problem(
                    f"user {user_id}: balance {user['balance_units']} below zero by more "
                    f"than the shortfalls recorded ({short})"
                )

    def check_nothing_held(self) -> None:
        for user_id, user in self.books.users.items():
            if user["reserved_units"]:
                self.problem(f"user {user_id}: {user['reserved_units']} units still held")
        for key_id, key in self.books.keys.items():
            if key["reserved_units"]:
                self.problem(f"key {key_id}: {key['reserved_units']} units still held")
        if self.books.process_holds or self.books.processes:
            self.problem(
                f"{len(self.books.process_holds)} process holds and "
                f"{len(self.books.processes)} processes left after the gateways stopped"
            )

    # -- calls and their request-log rows --------------------------------------------------

    def log_of(self, call: Call) -> list[dict[str, Any]]:
        if call.request_id is not None:
            found = self._logs_by_request.get(call.request_id)
            return [found] if found else []
        if call.how in ("abandon", "leave"):
            return self._logs_by_key.get(call.key.key_id, [])
        return []

    def check_calls(self) -> None:
        """Each call that reached the gateway has one request-log row (and no other call
        has), showing who made it and what it cost; the cost is exact when the upstream
        answered whole, else within what the gateway can have seen."""
        matched: set[int] = set()
        for call in self.record.calls:
            rows = self.log_of(call)
            matched.update(row["id"] for row in rows)
            what = f"call {call.marker} ({call.how} {call.model}, status {call.status})"
            refused = call.status in (402, 403)
            if call.status not in (None, 200, 402, 403, 502):
                self.problem(f"{what}: unexpected status")
            if call.status == 403 and call.key.limit_units is None:
                self.problem(f"{what}: refused 403 on a key without a spending limit")
            must = not refused and (call.status is not None or call.reached_upstream)
            may = not refused and call.status is None
            if len(rows) > 1 or (must and not rows) or (rows and not (must or may)):
                self.problem(f"{what}: {len(rows)} request-log rows")
                continue
            if rows:
                self._check_row(call, rows[0], what)
        logged = Counter(row["request_id"] for row in self.books.logs)
        for request_id in (request_id for request_id, n in logged.items() if n > 1):
            self.problem(f"request {request_id} has {logged[request_id]} request-log rows")
        unmatched = [row for row in self.books.logs if row["id"] not in matched]
        for row in unmatched:
            self.problem(f"request-log row {row['request_id']} matches no call the run made")

    def _check_row(self, call: Call, row: dict[str, Any], what: str) -> None:
        expected = (call.key.user_id, call.key.key_id, call.model, call.stream)
        found = (row["user_id"], row["key_id"], row["model"], row["stream"])
        if found != expected:
            self.problem(f"{what}: logged as {found}, expected {expected}")
        if call.status in (200, 502) and not call.stream and row["status_code"] != call.status:
            self.problem(f"{what}: logged with status {row['status_code']}")
        if call.how == "stream" and call.status == 200 and not call.done:
            self.problem(f"{what}: the stream ended without [DONE]")
        low, high = self.cost_range(call)
        if not low <= row["cost_units"] <= high:
            self.problem(f"{what}: cost {row['cost_units']}, expected {low}..{high}")

    @staticmethod
    def cost_range(call: Call) -> tuple[int, int]:
        """The least and most the call can have been charged, given how it ended."""
        if call.status == 502:
            return 0, 0
        if call.status == 200:
            if not call.stream or call.done:
                return call.full_cost, call.full_cost
            return call.least_cost, call.worst  # cut
        if not call.reached_upstream:
            return 0, 0
        if not call.stream:  # the attempt in flight ran to its end
            return call.full_cost, call.full_cost
        return 0, call.worst

    # -- the ledger ------------------------------------------------------------------------

    def check_ledger_explained(self) -> None:
        """Every ledger row comes from something the run did, exactly once."""
        by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for entry in self.books.ledger:
            by_kind[entry["kind"]].append(entry)
        for kind in by_kind.keys() - KINDS:
            self.problem(f"unexpected ledger rows of kind {kind}: {by_kind[kind]}")
        grants = Counter((e["user_id"], e["amount_units"]) for e in by_kind["grant"])
        if grants != Counter(self.record.grants.items()):
            self.problem(f"grants {dict(grants)} != {self.record.grants}")
        adjusted = {
            e["idempotency_key"]: (e["user_id"], e["amount_units"])
            for e in by_kind["admin_adjustment"]
        }
        applied = {
            a.idempotency_key: (a.user_id, a.units) for a in self.record.adjustments if a.applied
        }
        if adjusted != applied:
            self.problem(f"adjustments in the ledger {adjusted} != applied {applied}")
        bought = Counter((e["user_id"], e["amount_units"]) for e in by_kind["purchase"])
        if bought != Counter((p.user_id, p.credits_units) for p in self.record.purchases):
            self.problem(f"purchases in the ledger {dict(bought)} != the run's")
        reversed_by_user: dict[int, int] = defaultdict(int)
        for payment in self.books.payments.values():
            reversed_by_user[payment["user_id"]] += payment["reversed_units"]
        for entry in by_kind["refund"]:
            reversed_by_user[entry["user_id"]] += entry["amount_units"]
        for user_id, left in reversed_by_user.items():
            if left:
                self.problem(
                    f"user {user_id}: refund rows differ from the payments' reversed "
                    f"credits by {left}"
                )
        charged = {e["request_id"]: e for e in by_kind["usage"]}
        if len(charged) != len(by_kind["usage"]):
            self.problem("a call was charged twice")
        for row in self.books.logs:
            entry = charged.pop(row["request_id"], None)
            amount = 0 if entry is None else -entry["amount_units"]
            if amount != row["cost_units"] or (entry is None) != (row["cost_units"] == 0):
                self.problem(
                    f"request {row['request_id']}: cost {row['cost_units']}, charged {amount}"
                )
        for request_id in charged:
            self.problem(f"usage row for request {request_id}, which has no request-log row")

    def call_of(self, entry: dict[str, Any]) -> Call | None:
        call = self._calls_by_request.get(entry["request_id"])
        if call is None:
            log = self._logs_by_request.get(entry["request_id"])
            call = self._calls_by_key.get(log["key_id"]) if log else None
        return call

    def check_shortfalls(self) -> None:
        """No call was served without a hold covering it: a charge beyond the call's
        documented worst case, or below zero, is the recorded shortfall, to the unit, and
        the gateways logged it; the hold they logged is the documented worst case."""
        logged: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for line in self.log_lines:
            message = str(line.get("message", ""))
            if message.startswith("credit shortfall: request "):
                logged[message.split(" ")[3]].append(line)
        for entry in self.books.ledger:
            if entry["kind"] != "usage":
                continue
            call = self.call_of(entry)
            if call is None:
                continue  # reported by check_ledger_explained
            cost, after = -entry["amount_units"], entry["balance_after_units"]
            below_zero = min(cost, -after) if after < 0 else 0
            expected = max(0, cost - call.worst, below_zero)
            what = f"call {call.marker} ({call.model}, request {entry['request_id']})"
            if entry["shortfall_units"] != expected:
                self.problem(
                    f"{what}: shortfall {entry['shortfall_units']}, expected {expected} "
                    f"(cost {cost}, worst case {call.worst}, balance after {after})"
                )
            lines = logged.get(entry["request_id"], [])
            if expected and not lines:
                self.problem(f"{what}: shortfall {expected} not logged")
            if cost > call.worst:
                held = [line.get("held_units") for line in lines if "held_units" in line]
                if held != [call.worst]:
                    self.problem(
                        f"{what}: the gateway logged holds {held}, the documented "
                        f"worst case is {call.worst}"
                    )

    def check_debts(self) -> None:
        """A call that cost more than its hold and left the balance below zero stops the
        user's calls that its process admits after it (until credits are added)."""
        additions: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for change in self.record.adjustments:
            if change.units > 0:
                additions[change.user_id].append((change.started, change.ended))
        for purchase in self.record.purchases:
            additions[purchase.user_id].append((purchase.started, purchase.ended))
        usage = {e["request_id"]: e for e in self.books.ledger if e["kind"] == "usage"}
        for debtor in self.record.calls:
            entry = usage.get(debtor.request_id or "")
            if debtor.stream or entry is None or entry["balance_after_units"] >= 0:
                continue
            if -entry["amount_units"] <= debtor.worst:
                continue  # below zero only because credits were removed meanwhile
            for call in self.record.calls:
                if (
                    call.key.user_id == debtor.key.user_id
                    and call.gateway == debtor.gateway
                    and call.started > debtor.ended
                    and call.status not in (None, 402)
                    and not any(
                        start < call.ended and end > debtor.started
                        for start, end in additions[call.key.user_id]
                    )
                ):
                    self.problem(
                        f"call {call.marker} ({call.model}): status {call.status} though call "
                        f"{debtor.marker} on the same gateway had left the balance at "
                        f"{entry['balance_after_units']} before it started"
                    )

    # -- keys and payments -----------------------------------------------------------------

    def check_keys(self) -> None:
        """A key's spend is what its calls cost; one with a limit never spends past it by more
        than its calls cost beyond their holds."""
        excess: dict[int, int] = defaultdict(int)
        spent: dict[int, int] = defaultdict(int)
        for call in self.record.calls:
            for row in self.log_of(call):
                spent[call.key.key_id] += row["cost_units"]
                excess[call.key.key_id] += max(0, row["cost_units"] - call.worst)
        for key in self.record.keys:
            found = self.books.keys[key.key_id]
            if found["spent_units"] != spent[key.key_id]:
                self.problem(
                    f"key {key.key_id}: spent {found['spent_units']}, its calls cost "
                    f"{spent[key.key_id]}"
                )
            if key.limit_units is not None and (
                found["spent_units"] > key.limit_units + excess[key.key_id]
            ):
                self.problem(
                    f"key {key.key_id}: spent {found['spent_units']} past its limit "
                    f"{key.limit_units} (+{excess[key.key_id]} beyond holds)"
                )

    def check_payments(self) -> None:
        """Each purchase is paid once, and its refunds took back the refunded share of its
        credits, or recorded what was already spent."""
        for purchase in self.record.purchases:
            payment = self.books.payments.get(purchase.session_id)
            if payment is None or payment["status"] not in SETTLED:
                self.problem(f"purchase {purchase.session_id}: payment {payment}")
                continue
            due = purchase.credits_units * purchase.refunded_cents // purchase.amount_cents
            reversed_units = payment["reversed_units"] + payment["unreversed_units"]
            found = (payment["credits_units"], payment["refunded_cents"], reversed_units)
            if found != (purchase.credits_units, purchase.refunded_cents, due):
                wanted = (purchase.credits_units, purchase.refunded_cents, due)
                self.problem(
                    f"purchase {purchase.session_id}: (credits, refunded cents, reversed) "
                    f"{found} != {wanted}"
                )

    def check_logs(self) -> None:
        """Nothing went wrong in a gateway, and each stopped when asked (not killed)."""
        for name, lines in self.logs.items():
            for line in lines:
                if line.get("level") not in ("debug", "info", "warning") or "exception" in line:
                    self.problem(f"{name}: {line}")
            if not any(line.get("message") == "Application shutdown complete." for line in lines):
                self.problem(f"{name}: the gateway did not shut down when asked")
