"""`make demo`: load a demonstration in the spirit of Tongling's figures, through the public API.

    python scripts/demo.py [--url http://127.0.0.1:8000] [--key cfk_...]

Run it while `make run` serves (same PORT and VAR_DIR): it signs in with
BOOTSTRAP_ADMIN_API_KEY, else the admin key `make run` keeps under var/. It
makes a charity federation, 11 townships and 12 chambers of commerce with
their named funds, about 30 weak villages and their needs, claims on them,
24 assistance teams with their activities, 102 micro projects with budgets of
about 3 million yuan in all (some late on their milestones), a peach drive of
2,500 kg, and a year of donations and payouts; then it prints where to look.

A second run adds nothing: every record is looked up by its natural key (an
organisation's name, a fund's or a project's code, a village's name in its
township, a need's title, a donation's reference, a payout's purpose) before
it is made.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
SEED = 2026

FEDERATION = "铜陵市慈善总会"
TOWNSHIPS = ["钟鸣镇", "顺安镇", "天门镇", "西联镇", "东联镇", "胥坝乡", "老洲镇", "陈瑶湖镇", "周潭镇", "大通镇",
             "铜山镇"]
CHAMBERS = ["铜陵市浙江商会", "铜陵市福建商会", "铜陵市江苏商会", "铜陵市温州商会", "铜陵市安庆商会",
            "铜陵市湖北商会", "铜陵市河南商会", "铜陵市江西商会", "铜陵市山东商会", "铜陵市四川商会",
            "铜陵市青年企业家商会", "铜陵市女企业家商会"]
VILLAGE_NAMES = ["红旗村", "新桥村", "南湖村", "青山村", "永丰村", "长山村", "光明村", "联合村", "马山村", "团结村",
                 "金桥村", "双龙村", "白沙村", "凤凰村", "和平村", "东风村", "幸福村", "高桥村", "杨湾村", "民主村",
                 "前进村", "新华村", "合心村", "石门村", "荷花村", "五星村", "桃园村", "同心村", "丰收村", "兴隆村"]
COMPANIES = ["铜陵有色金属集团", "海螺水泥", "铜陵化学工业集团", "精达股份", "铜峰电子", "六国化工", "安徽鑫科",
             "铜陵农商银行", "中铁四局铜陵分公司", "铜陵港务", "皖江物流", "长江铜业"]
PEOPLE = ["王建国", "李秀英", "张伟", "刘芳", "陈明", "杨静", "赵磊", "黄丽", "周强", "吴敏"]


class Demo:
    def __init__(self, url: str, key: str) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=60,
                                 headers={"Authorization": f"Bearer {key}"})
        self.url = url.rstrip("/")
        self.random = random.Random(SEED)
        self.today = beijing_today()
        self.made: dict[str, int] = {}
        self.keys: dict[tuple[int, str], str] = {}

    # -- plumbing ------------------------------------------------------------------------------

    def call(self, method: str, path: str, ok: tuple[int, ...] = (200, 201), key: str | None = None,
             **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        response = self.http.request(method, path, headers=headers, **kwargs)
        if response.status_code not in ok:
            raise SystemExit(f"demo: {method} {path} answered {response.status_code}: {response.text[:500]}")
        return response

    def every(self, path: str, key: str | None = None, **params: Any) -> Iterator[dict[str, Any]]:
        cursor = None
        while True:
            page = self.call("GET", path, key=key, params={**params, "limit": 500,
                                                          **({"cursor": cursor} if cursor else {})}).json()
            yield from page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return

    def count(self, what: str, n: int = 1) -> None:
        if n:
            self.made[what] = self.made.get(what, 0) + n

    # -- organisations, keys and funds ---------------------------------------------------------------

    def organizations(self) -> dict[str, int]:
        existing = {o["name"]: o["id"] for o in self.every("/funds/api/v1/organizations")}
        wanted = [(FEDERATION, "federation")] + [(f"{t}人民政府", "township") for t in TOWNSHIPS] + [
            (c, "chamber_of_commerce") for c in CHAMBERS]
        for name, kind in wanted:
            if name not in existing:
                existing[name] = self.call("POST", "/funds/api/v1/organizations",
                                           json={"name": name, "kind": kind}).json()["id"]
                self.count("organisations")
        return existing

    def key_for(self, organization_id: int) -> str:
        """A key of the organisation's own for its clerk's work."""
        return self.stored_key(organization_id, "", "演示数据", [
            "funds:read", "funds:write", "donations:read", "donations:write", "reports:read", "programmes:read",
            "programmes:write"])

    def approver_for(self, organization_id: int) -> str:
        """A second key of the organisation's that approves (four eyes)."""
        return self.stored_key(organization_id, ".approver", "演示审批", [
            "funds:read", "donations:read", "disbursements:approve", "programmes:read"])

    def stored_key(self, organization_id: int, role: str, name: str, scopes: list[str]) -> str:
        """A key kept under var/ (a second run reuses it while it is valid), asked for once a run."""
        if (organization_id, role) in self.keys:
            return self.keys[(organization_id, role)]
        store = var_dir() / "demo_keys"
        store.mkdir(parents=True, exist_ok=True)
        path = store / f"{organization_id}{role}.key"
        key = path.read_text().strip() if path.exists() else ""
        if not key or self.http.get("/funds/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code != 200:
            key = self.call("POST", f"/funds/api/v1/organizations/{organization_id}/api-keys",
                            json={"name": name, "scopes": scopes}).json()["key"]
            path.write_text(key + "\n")
            path.chmod(0o600)
        self.keys[(organization_id, role)] = key
        return key

    def funds(self, organizations: dict[str, int]) -> list[dict[str, Any]]:
        funds = []
        plan = [(f"TL-TS-{n + 1:02d}", f"{t}冠名慈善基金", "township_named", organizations[f"{t}人民政府"],
                 f"{t}薄弱村帮扶、困难群众救助") for n, t in enumerate(TOWNSHIPS)]
        plan += [(f"TL-CC-{n + 1:02d}", f"{c.removeprefix('铜陵市')}冠名慈善基金", "chamber_named", organizations[c],
                  "助力乡村振兴：微公益创投、消费帮扶、助学") for n, c in enumerate(CHAMBERS)]
        for code, name, kind, organization_id, purpose in plan:
            found = self.call("GET", f"/funds/api/v1/funds/{code}", ok=(200, 404))
            if found.status_code == 404:
                found = self.call("POST", "/funds/api/v1/funds", json={
                    "code": code, "name": name, "kind": kind, "organization_id": organization_id,
                    "purpose": purpose, "restricted": False, "opened_on": f"{self.today.year - 1}-01-01"})
                self.count("funds")
            funds.append(found.json())
        return funds

    # -- a year of donations ----------------------------------------------------------------------------

    def donations(self, funds: list[dict[str, Any]]) -> None:
        """About 80 donations a fund over the last year, by bank, WeChat, cash and in kind; some donors
        asked not to be named. Each has a reference, so a second run records none twice."""
        start = self.today - dt.timedelta(days=365)
        for fund in funds:
            rows = []
            rng = random.Random(f"{SEED}-{fund['code']}")
            for n in range(80):
                company = rng.random() < 0.55
                amount = Decimal(rng.choice([500, 1000, 2000, 5000, 10000, 20000, 50000, 100000]) if company
                                 else rng.choice([50, 100, 200, 300, 500, 1000, 2000]))
                rows.append({
                    "fund_code": fund["code"], "amount": f"{amount:.2f}", "currency": "CNY",
                    "donor": {"name": rng.choice(COMPANIES) if company else rng.choice(PEOPLE),
                              "kind": "enterprise" if company else "individual",
                              "anonymous": not company and rng.random() < 0.25},
                    "received_on": (start + dt.timedelta(days=rng.randrange(0, 365))).isoformat(),
                    "channel": rng.choice(["bank", "bank", "wechat", "alipay", "cash"]),
                    "reference": f"DEMO-{fund['code']}-{n + 1:03d}"})
            results = self.call("POST", "/donations/api/v1/donations/batch", json=rows,
                                key=self.key_for(fund["organization_id"])).json()["results"]
            recorded = sum(1 for r in results if r["status"] == "recorded")
            invalid = [r for r in results if r["status"] == "invalid"]
            if invalid:
                raise SystemExit(f"demo: a donation was refused: {invalid[0]}")
            self.count("donations", recorded)

    # -- villages, needs and claims ----------------------------------------------------------------------

    def villages(self) -> list[dict[str, Any]]:
        existing = {(v["township"], v["name"]): v for v in self.every("/programmes/api/v1/villages")}
        villages = []
        for n, name in enumerate(VILLAGE_NAMES):
            township = TOWNSHIPS[n % len(TOWNSHIPS)]
            village = existing.get((township, name))
            if village is None:
                village = self.call("POST", "/programmes/api/v1/villages",
                                    json={"name": name, "township": township, "weak": True}).json()
                self.count("villages")
            villages.append(village)
        return villages

    def needs(self, villages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        existing = {(n["village_id"], n["title"]): n for n in self.every("/programmes/api/v1/needs")}
        needs = []
        for n, village in enumerate(villages):
            rng = random.Random(f"{SEED}-need-{village['id']}")
            lights = rng.randint(8, 40)
            plans = [(f"太阳能路灯 {lights} 盏", "lighting", lights * rng.choice([300, 350, 400]), "high", lights, "盏")]
            if n % 3 == 0:
                plans.append(("村组道路硬化 1.2 公里", "roads", rng.choice([180000, 240000, 320000]), "normal", None, None))
            if n % 4 == 1:
                plans.append(("安全饮水管网改造", "drinking_water", rng.choice([60000, 85000, 120000]), "high", None,
                              None))
            if n % 5 == 2:
                plans.append(("留守儿童助学金", "schooling", rng.choice([20000, 30000, 40000]), "normal", None, None))
            for title, category, amount, priority, quantity, unit in plans:
                need = existing.get((village["id"], title))
                if need is None:
                    due = self.today + dt.timedelta(days=rng.randint(30, 240))
                    need = self.call("POST", "/programmes/api/v1/needs", json={
                        "village_id": village["id"], "title": title, "category": category,
                        "amount": f"{amount}.00", "due_on": due.isoformat(), "priority": priority,
                        **({"quantity": str(quantity), "unit": unit} if quantity else {})}).json()
                    self.count("needs")
                needs.append(need)
        return needs

    def claims(self, needs: list[dict[str, Any]], organizations: dict[str, int]) -> None:
        """Chambers claim most street lights and some of the rest; a few needs stay open."""
        chambers = [organizations[c] for c in CHAMBERS]
        claimed = {(c["need_id"], c["organization_id"]) for c in self.every("/programmes/api/v1/claims")}
        for n, need in enumerate(needs):
            if n % 5 == 4:
                continue  # open, waiting for someone
            organization_id = chambers[n % len(chambers)]
            if (need["id"], organization_id) in claimed:
                continue
            amount = Decimal(need["amount"]) if need["category"] == "lighting" else Decimal(need["amount"]) / 2
            response = self.call("POST", f"/programmes/api/v1/needs/{need['id']}/claims", ok=(201, 409),
                                 json={"amount": f"{amount:.2f}"}, key=self.key_for(organization_id))
            if response.status_code == 201:
                self.count("claims")

    # -- payouts ---------------------------------------------------------------------------------------------

    def payout(self, fund: dict[str, Any], amount: Decimal, payee: str, purpose: str, paid: set[str],
               **naming: Any) -> None:
        """Request, approve (another key: four eyes) and pay, unless a payout of this purpose exists."""
        if purpose in paid:
            return
        clerk, approver = self.key_for(fund["organization_id"]), self.approver_for(fund["organization_id"])
        requested = self.call("POST", "/donations/api/v1/disbursements", key=clerk, json={
            "fund_code": fund["code"], "amount": f"{amount:.2f}", "payee": payee, "purpose": purpose, **naming})
        number = requested.json()["id"]
        self.call("POST", f"/donations/api/v1/disbursements/{number}/approve", key=approver)
        self.call("POST", f"/donations/api/v1/disbursements/{number}/pay", key=clerk, json={
            "paid_on": self.today.isoformat(), "bank_reference": f"DEMO-PAY-{number:06d}"})
        paid.add(purpose)
        self.count("payouts")

    def paid_purposes(self, fund: dict[str, Any]) -> set[str]:
        return {d["purpose"] for d in self.every("/donations/api/v1/disbursements", fund_code=fund["code"])}

    def relief(self, funds: list[dict[str, Any]]) -> None:
        """Townships help people in difficulty: individual payees, shown in public under pseudonyms."""
        for fund in funds:
            if fund["kind"] != "township_named":
                continue
            rng = random.Random(f"{SEED}-relief-{fund['code']}")
            paid = self.paid_purposes(fund)
            for n in range(6):
                payee = f"{rng.choice('王李张刘陈杨赵黄周吴')}{rng.choice(['某某', '某'])}（困难户）"
                self.payout(fund, Decimal(rng.choice([800, 1000, 1500, 2000, 3000])), payee,
                            f"困难群众临时救助（第 {n + 1} 批）", paid)

    def need_payouts(self, funds: list[dict[str, Any]], needs: list[dict[str, Any]]) -> None:
        """Chambers pay for the street lights they claimed: part of each claim so far."""
        by_organization = {fund["organization_id"]: fund for fund in funds if fund["kind"] == "chamber_named"}
        paid_by_fund: dict[str, set[str]] = {}
        by_id = {need["id"]: need for need in needs}
        for claim in self.every("/programmes/api/v1/claims"):
            fund = by_organization.get(claim["organization_id"])
            if fund is None or claim["status"] not in ("pledged", "in_progress", "fulfilled"):
                continue
            need = by_id.get(claim["need_id"])  # None: a need the demonstration did not post
            if need is None or need["category"] != "lighting":
                continue
            paid = paid_by_fund.setdefault(fund["code"], self.paid_purposes(fund))
            amount = (Decimal(claim["amount"]) * Decimal("0.6")).quantize(Decimal("1"))
            self.payout(fund, amount, f"{need['village']}村民委员会", f"{need['village']}{need['title']}（首期）", paid,
                        need_id=need["id"])

    # -- assistance teams ---------------------------------------------------------------------------------

    def teams(self, organizations: dict[str, int], villages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """24 teams of "1+N": each chamber leads two, with another chamber and a township as partners,
        paired with one or two villages, and a year of visits, goods, training and sales help."""
        existing = {t["name"]: t for t in self.every("/programmes/api/v1/teams")}
        chambers = [organizations[c] for c in CHAMBERS]
        teams = []
        for n in range(24):
            lead = chambers[n % len(chambers)]
            partner = chambers[(n + 5) % len(chambers)]
            township = organizations[f"{TOWNSHIPS[n % len(TOWNSHIPS)]}人民政府"]
            paired = [villages[n % len(villages)]] + ([villages[(n + 12) % len(villages)]] if n % 2 else [])
            name = f"{CHAMBERS[n % len(CHAMBERS)].removeprefix('铜陵市')}帮扶团{'一二'[n // len(CHAMBERS)]}队"
            team = existing.get(name)
            if team is None:
                team = self.call("POST", "/programmes/api/v1/teams", key=self.key_for(lead), json={
                    "name": name, "village_ids": [v["id"] for v in paired], "members": [
                        {"organization_id": lead, "role": "lead", "contribution": "牵头组织，捐资助力"},
                        {"organization_id": partner, "role": "partner", "contribution": "技术培训与销售渠道"},
                        {"organization_id": township, "role": "partner", "contribution": "对接村两委，组织实施"}]}).json()
                self.count("teams")
                self.activities(team, lead, paired)
            team["lead"] = lead
            teams.append(team)
        return teams

    def activities(self, team: dict[str, Any], lead: int, villages: list[dict[str, Any]]) -> None:
        rng = random.Random(f"{SEED}-team-{team['name']}")
        for _ in range(rng.randint(3, 6)):
            village = rng.choice(villages)
            kind = rng.choice(["visit", "goods", "training", "sales_help"])
            volunteers = [{"name": f"{rng.choice('王李张刘陈杨赵黄周吴')}{rng.choice(['志强', '红', '军', '敏', '婷'])}",
                           "hours": f"{rng.choice([2, 3, 4, 6, 8])}.{rng.choice([0, 5])}"}
                          for _ in range(rng.randint(2, 8))]
            self.call("POST", f"/programmes/api/v1/teams/{team['id']}/activities", key=self.key_for(lead), json={
                "on": (self.today - dt.timedelta(days=rng.randint(1, 330))).isoformat(), "village_id": village["id"],
                "kind": kind, "people_helped": rng.randint(5, 120), "volunteers": volunteers,
                "description": {"visit": "走访慰问困难户", "goods": "捐赠米面油等生活物资", "training": "农技与电商培训",
                                "sales_help": "帮助销售农产品"}[kind]})
            self.count("activities")

    # -- micro public-welfare projects -------------------------------------------------------------------

    def projects(self, funds: list[dict[str, Any]], villages: list[dict[str, Any]],
                 teams: list[dict[str, Any]]) -> None:
        """102 projects of 10,000 to 50,000 yuan, about 3 million in all: approved (a few still drafts),
        milestones reported and accepted as they fell due and their instalments paid, except for some
        projects that are late with a report."""
        team_of = {}
        for team in teams:
            team_of.setdefault(team["lead"], team)
        paid_by_fund = {fund["code"]: self.paid_purposes(fund) for fund in funds}
        for n in range(102):
            rng = random.Random(f"{SEED}-project-{n}")
            fund = funds[n % len(funds)]
            code = f"TL-WG-{n + 1:03d}"
            project = self.call("GET", f"/programmes/api/v1/projects/{code}", ok=(200, 404))
            if project.status_code == 404:
                project = self.call("POST", "/programmes/api/v1/projects", key=self.key_for(fund["organization_id"]),
                                    json=self.project_plan(rng, code, fund, villages, team_of))
                self.count("projects")
            self.advance(project.json(), fund, paid_by_fund[fund["code"]], n)

    def project_plan(self, rng: random.Random, code: str, fund: dict[str, Any], villages: list[dict[str, Any]],
                     team_of: dict[int, dict[str, Any]]) -> dict[str, Any]:
        village = rng.choice(villages)
        title, lines = rng.choice([
            ("留守儿童四点半课堂", ["场地与设施", "志愿者补贴", "教材与文具"]),
            ("独居老人助餐服务", ["食材采购", "送餐人员劳务", "餐具与保温设备"]),
            ("村民健康义诊", ["药品与耗材", "医护人员交通", "宣传材料"]),
            ("农产品电商培训", ["培训讲师", "场地租赁", "学员资料"]),
            ("困境儿童助学", ["助学金", "学习用品"]),
            ("村庄环境整治", ["清运劳务", "垃圾分类设施"]),
        ])
        total = rng.randint(10, 50) * 1000
        shares = [Decimal(1)] if len(lines) == 1 else ([Decimal("0.5"), Decimal("0.3"), Decimal("0.2")]
                                                       if len(lines) == 3 else [Decimal("0.6"), Decimal("0.4")])
        amounts = [int(total * share) for share in shares]
        amounts[0] += total - sum(amounts)
        starts = self.today - dt.timedelta(days=rng.randint(40, 330))
        ends = starts + dt.timedelta(days=rng.choice([180, 270, 365]))
        parts = [Decimal("0.4"), Decimal("0.4"), Decimal("0.2")]
        instalments = [int(total * part) for part in parts]
        instalments[-1] += total - sum(instalments)
        span = (ends - starts).days
        milestones = [{"name": name, "due_on": (starts + dt.timedelta(days=span * k // 3)).isoformat(),
                       "instalment": f"{amount}.00"}
                      for k, (name, amount) in enumerate(zip(["启动与方案", "中期实施", "结项验收"], instalments), 1)]
        team = team_of.get(fund["organization_id"])
        return {"code": code, "name": f"{village['name']}{title}", "fund_code": fund["code"],
                "village_id": village["id"], "team_id": team["id"] if team else None,
                "starts_on": starts.isoformat(), "ends_on": ends.isoformat(),
                "description": f"{fund['name']}资助的微公益创投项目",
                "lines": [{"name": name, "amount": f"{amount}.00"} for name, amount in zip(lines, amounts)],
                "milestones": milestones}

    def advance(self, project: dict[str, Any], fund: dict[str, Any], paid: set[str], n: int) -> None:
        """Bring the project to where the scenario has it; what is done already is left as it is."""
        code, organization_id = project["code"], fund["organization_id"]
        clerk, approver = self.key_for(organization_id), self.approver_for(organization_id)
        if n % 17 == 5:
            return  # still a draft, waiting for approval
        if project["status"] == "draft":
            project = self.call("POST", f"/programmes/api/v1/projects/{code}/approve", key=approver).json()
        late = n % 7 == 3  # behind with a report
        for milestone in project["milestones"]:
            if dt.date.fromisoformat(milestone["due_on"]) > self.today or (late and milestone["n"] > 1):
                break
            if milestone["status"] == "pending":
                self.call("POST", f"/programmes/api/v1/projects/{code}/milestones/{milestone['n']}/report",
                          key=clerk, json={"report": f"{milestone['name']}已完成，附照片与签到表。"})
            if milestone["status"] in ("pending", "reported"):
                self.call("POST", f"/programmes/api/v1/projects/{code}/milestones/{milestone['n']}/accept",
                          key=approver)
                self.count("milestones accepted")
        project = self.call("GET", f"/programmes/api/v1/projects/{code}").json()
        # Each accepted milestone's instalment is paid out of the lines in order, as far as not yet paid.
        settled = Decimal(project["paid"]) + Decimal(project["reserved"])
        covered = Decimal(0)
        for milestone in project["milestones"]:
            if milestone["status"] != "accepted":
                continue
            due = covered + Decimal(milestone["instalment"]) - max(covered, settled)
            covered += Decimal(milestone["instalment"])
            for line in project["lines"]:
                share = min(due, Decimal(line["remaining"]))
                if share > 0:
                    self.payout(fund, share, project["name"], f"{code} 第 {milestone['n']} 期拨付：{line['name']}",
                                paid, project_code=code, budget_line=line["name"])
                    due -= share
                    line["remaining"] = str(Decimal(line["remaining"]) - share)

    # -- the peach drive ----------------------------------------------------------------------------------

    def drive(self, organizations: dict[str, int], villages: list[dict[str, Any]]) -> None:
        """Hongqi Village's yellow peaches: 2,500 kg in 5-jin (2.5 kg) baskets at 35 yuan, 1,000 baskets."""
        hongqi = next(v for v in villages if v["name"] == "红旗村")
        organiser = organizations[CHAMBERS[0]]
        existing = [d for d in self.every("/programmes/api/v1/drives", key=self.key_for(organiser),
                                          village_id=hongqi["id"]) if d["name"] == "红旗村黄桃消费帮扶"]
        if existing:
            return
        drive = self.call("POST", "/programmes/api/v1/drives", key=self.key_for(organiser), json={
            "name": "红旗村黄桃消费帮扶", "village_id": hongqi["id"], "product": "黄桃", "unit": "5斤装一筐",
            "unit_price": "35.00", "quantity": "1000", "seller": "红旗村黄桃专业合作社"}).json()
        self.count("drives")
        buyers = [organizations[c] for c in CHAMBERS[:8]]
        for n, buyer in enumerate(buyers):
            self.call("POST", f"/programmes/api/v1/drives/{drive['id']}/pledges", key=self.key_for(organiser),
                      json={"organization_id": buyer, "quantity": "125"})
            # Most buy at market price (an exchange); two give the peaches on to nursing homes (charitable
            # spending); one pays 40 yuan a basket (a donation of the 5-yuan difference); one is related.
            kind, price = ("given_on", 35) if n in (2, 5) else (("premium", 40) if n == 3 else ("market", 35))
            self.call("POST", f"/programmes/api/v1/drives/{drive['id']}/purchases", key=self.key_for(organiser), json={
                "organization_id": buyer, "quantity": "125", "amount": f"{125 * price}.00", "kind": kind,
                "related_party": n == 6, "purchased_on": (self.today - dt.timedelta(days=100 - n)).isoformat()})
            self.count("purchases")

    # -- the whole scenario ------------------------------------------------------------------------------

    def run(self) -> None:
        began = time.monotonic()
        organizations = self.organizations()
        funds = self.funds(organizations)
        self.donations(funds)
        villages = self.villages()
        needs = self.needs(villages)
        self.claims(needs, organizations)
        self.relief(funds)
        self.need_payouts(funds, needs)
        teams = self.teams(organizations, villages)
        self.projects(funds, villages, teams)
        self.drive(organizations, villages)
        seconds = time.monotonic() - began
        made = ", ".join(f"{n} {what}" for what, n in self.made.items()) or "nothing new (already loaded)"
        print(f"""
  Demo loaded in {seconds:.0f} s: {made}.
  Where to look:
    the needs list:        {self.url}/programmes/
    a village, in public:  {self.url}/programmes/public/villages/{villages[0]['id']}
    a fund, in public:     {self.url}/programmes/public/funds/{funds[-1]['code']}
    a project, in public:  {self.url}/programmes/public/projects/TL-WG-001
    the funds' overview:   {self.url}/donations/   (log in as admin)
    API docs:              {self.url}/programmes/docs
""", flush=True)


def beijing_today() -> dt.date:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=8)).date()


def var_dir() -> Path:
    return Path(os.environ.get("VAR_DIR") or REPO_ROOT / "var").resolve()


def admin_key() -> str | None:
    if os.environ.get("BOOTSTRAP_ADMIN_API_KEY"):
        return os.environ["BOOTSTRAP_ADMIN_API_KEY"]
    path = var_dir() / "admin_api_key"
    return path.read_text().strip() if path.exists() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load the demonstration through the API.")
    parser.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('PORT') or 8000}")
    parser.add_argument("--key", default=None, help="an admin API key (default: BOOTSTRAP_ADMIN_API_KEY, else var/)")
    parser.add_argument("--wait", type=float, default=0, help="seconds to wait for the server to answer")
    args = parser.parse_args(argv)
    key = args.key or admin_key()
    if not key:
        print("demo: no admin key: start `make run` first (it keeps one under var/), or set "
              "BOOTSTRAP_ADMIN_API_KEY", file=sys.stderr)
        return 2
    deadline = time.monotonic() + args.wait
    while True:
        try:
            httpx.get(f"{args.url}/funds/healthz", timeout=2).raise_for_status()
            break
        except httpx.HTTPError:
            if time.monotonic() >= deadline:
                print(f"demo: nothing answers at {args.url}: start `make run` first (same PORT)", file=sys.stderr)
                return 2
            time.sleep(0.5)
    Demo(args.url, key).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
