"""The load test of issue 14 (goal 6): 200 cadres, 20 officials and 5 city users on one server.

Run by `bench/load/run.py`, which prepares the database and the accounts (`setup.py`, written to
the JSON file named by LOAD_ACCOUNTS), starts gunicorn with the production settings and the task
worker, and runs this file headless. Each simulated user signs in once (the login throttle counts
only failures), fetching the form first for its CSRF token, then works at a person's pace:

- cadres (phones): their household list, a household's page, saving a plan (a household with no
  plan yet or a draft: the form is on the page), the quote;
- village and township officials: the batch list, a batch page, the step their role may take on a
  batch waiting for it (提交入户核实 / 入户核实 / 乡镇复核汇总: confirmation page, then the POST),
  printing the 公示 (a village's PDF; a township's print job for the worker), the notice list;
- city users: the dashboard of the city, of a township, and its xlsx.

A page is a failure if it answers with an error status, or — for a save, a step or a print — if it
does not show what the user expected (the saved plan, the step's message, a PDF or a job page).
"""

from __future__ import annotations

import json
import os
import random
import re
from collections import deque
from decimal import Decimal
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, task

ACCOUNTS: dict[str, Any] = json.loads(Path(os.environ["LOAD_ACCOUNTS"]).read_text(encoding="utf-8"))
PASSWORD = os.environ["LOAD_PASSWORD"]
POOLS = {role: deque(ACCOUNTS[role]) for role in ("cadres", "village", "township", "city")}

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
HOUSEHOLD = re.compile(r'href="/cadre/households/(\d+)/')
BATCH = re.compile(r'href="/admin/disbursements/batch/(\d+)/change/')
STEP = re.compile(r'href="(/admin/disbursements/batch/\d+/act/(submit|verify|township_review)/)"')
VILLAGE_OPTION = re.compile(r'<select name="village"[^>]*>(.*?)</select>', re.S)
OPTION = re.compile(r'<option value="(\d+)"')
SMOKE = bool(os.environ.get("LOAD_SMOKE"))  # 12 users: 6 cadres, 2 + 2 officials, 2 city users
CROPS = ("青稞", "玛咖", "核桃", "花椒", "中药材")


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    return match.group(1) if match else ""


class Signed(FastHttpUser):
    abstract = True
    # gunicorn's own --timeout: a page slower than this is an error there too.
    network_timeout = 120.0
    connection_timeout = 120.0
    pool = "city"
    username = ""

    def on_start(self) -> None:
        self.username = POOLS[self.pool].popleft()  # one account per simulated user
        for _ in range(3):  # a person whose sign-in timed out tries again (each try is counted)
            if self.sign_in():
                return

    def sign_in(self) -> bool:
        form = self.client.get("/admin/login/", name="login (form)")
        with self.client.post(
            "/admin/login/?next=/admin/",
            data={
                "username": self.username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": csrf_of(form.text or ""),
            },
            headers={"Referer": f"{self.host}/admin/login/"},
            name="login",
            catch_response=True,
            allow_redirects=False,
        ) as response:
            if response.status_code != 302:
                response.failure(f"sign-in refused ({response.status_code})")
                return False
        return True

    def post_form(self, url: str, data: dict[str, Any], name: str, form_url: str = "", **kwargs: Any) -> Any:
        page = self.client.get(form_url or url, name=name + " (form)")
        data = {**data, "csrfmiddlewaretoken": csrf_of(page.text or "")}
        return self.client.post(
            url,
            data=data,
            headers={"Referer": f"{self.host}{url}"},
            name=name,
            catch_response=True,
            allow_redirects=False,  # a save or a step answers with a redirect: checked, not followed
            **kwargs,
        )


class Cadre(Signed):
    pool = "cadres"
    fixed_count = 6 if SMOKE else 200
    wait_time = between(5, 15)

    def on_start(self) -> None:
        super().on_start()
        page = self.client.get("/cadre/", name="/cadre/")
        self.households = HOUSEHOLD.findall(page.text or "") or []
        self.editable: list[str] = []

    @task(4)
    def my_households(self) -> None:
        self.client.get("/cadre/", name="/cadre/")

    @task(6)
    def open_household(self) -> None:
        if not self.households:
            return
        pk = random.choice(self.households)
        page = self.client.get(f"/cadre/households/{pk}/", name="/cadre/households/[id]/")
        if 'name="crops"' in (page.text or "") and pk not in self.editable:
            self.editable.append(pk)

    @task(3)
    def save_plan(self) -> None:
        if not self.editable:
            return
        pk = random.choice(self.editable)
        url = f"/cadre/households/{pk}/"
        area = Decimal(random.randint(50, 300)) / 100
        with self.post_form(
            url,
            {"crops": random.choice(CROPS), "planting_area": str(area), "species": "", "quantity": ""},
            name="/cadre/households/[id]/ save plan",
        ) as response:
            text = response.text or ""
            if response.status_code == 302 and "saved=1" in response.headers.get("Location", ""):
                return
            if response.status_code == 200 and (
                'class="errorlist nonfield"' in text or 'name="crops"' not in text
            ):
                # The rules refused it with their message (e.g. 脱贫年度 2015: not eligible), or the
                # plan entered a batch meanwhile: what a cadre sees and stops at, not an error.
                self.editable.remove(pk)
                response.success()
            else:
                response.failure(f"plan not saved ({response.status_code})")

    @task(2)
    def quote(self) -> None:
        if not self.editable:
            return
        pk = random.choice(self.editable)
        with self.post_form(
            f"/cadre/households/{pk}/quote/",
            {"crops": "青稞", "planting_area": "1.5", "species": "猪", "quantity": "2"},
            name="/cadre/households/[id]/quote/",
            form_url=f"/cadre/households/{pk}/",
        ) as response:
            if response.status_code != 200 or not (response.text or "").strip():
                response.failure(f"no quote ({response.status_code})")


class Official(Signed):
    abstract = True
    wait_time = between(5, 15)

    @task(3)
    def batches(self) -> None:
        self.client.get("/admin/disbursements/batch/", name="/admin/disbursements/batch/")

    @task(4)
    def take_a_step(self) -> None:
        listing = self.client.get("/admin/disbursements/batch/", name="/admin/disbursements/batch/")
        ids = BATCH.findall(listing.text or "")
        if not ids:
            return
        page = self.client.get(
            f"/admin/disbursements/batch/{random.choice(ids)}/change/",
            name="/admin/disbursements/batch/[id]/",
        )
        steps = STEP.findall(page.text or "")
        if not steps:
            return
        url, action = steps[0]
        with self.post_form(url, {"note": "负载测试"}, name=f"batch step {action}") as response:
            # Back to the batch page, with the step's message — or, if another official took the
            # step a moment before, with the refusal's: a message, not an error.
            if response.status_code != 302 or "/admin/disbursements/batch/" not in response.headers.get(
                "Location", ""
            ):
                response.failure(f"{action}: {response.status_code}")

    @task(2)
    def notices(self) -> None:
        self.client.get("/admin/disbursements/notice/", name="/admin/disbursements/notice/")


class VillageOfficial(Official):
    pool = "village"
    fixed_count = 2 if SMOKE else 10

    @task(2)
    def print_village_notice(self) -> None:
        url = "/admin/disbursements/notice/print/"
        form = self.client.get(url, name="notice print (form)")
        options = VILLAGE_OPTION.search(form.text or "")
        villages = OPTION.findall(options.group(1)) if options else []
        if not villages:
            return
        data = {
            "kind": "grant",
            "year": "2017",
            "village": villages[0],
            "csrfmiddlewaretoken": csrf_of(form.text or ""),
        }
        with self.client.post(
            url,
            data=data,
            headers={"Referer": f"{self.host}{url}"},
            name="notice print, village PDF",
            catch_response=True,
        ) as response:
            if response.headers.get("Content-Type") != "application/pdf":
                response.failure("no PDF")


class TownshipOfficial(Official):
    pool = "township"
    fixed_count = 2 if SMOKE else 10

    @task(1)
    def print_township_notices(self) -> None:
        url = "/admin/disbursements/notice/print/"
        township = str(ACCOUNTS["township_id"])
        with self.post_form(
            url, {"kind": "grant", "year": "2017", "township": township}, name="notice print, township job"
        ) as response:
            if response.status_code != 302 or "/admin/households/job/" not in response.headers.get(
                "Location", ""
            ):
                response.failure(f"no print job ({response.status_code})")


class CityUser(Signed):
    pool = "city"
    fixed_count = 2 if SMOKE else 5
    wait_time = between(10, 20)

    @task(3)
    def dashboard(self) -> None:
        self.client.get("/dashboard/", name="/dashboard/ city")

    @task(2)
    def township_dashboard(self) -> None:
        self.client.get(f"/dashboard/?township={ACCOUNTS['township_id']}", name="/dashboard/?township=")

    @task(1)
    def dashboard_xlsx(self) -> None:
        self.client.get("/dashboard/xlsx/", name="/dashboard/xlsx/")
