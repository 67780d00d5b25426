"""Realistic synthetic policy rows (docs/policy-file.md) for benchmarks and demos. Deterministic per seed.

Faker is called only to fill small pools up front; each row is then assembled from the pools with one
seeded random.Random, so 100,000 rows take a second or two.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from faker import Faker

from intake.columns import COLUMNS
from intake.identity import make_resident_id


@dataclass(frozen=True)
class Branch:
    code: str
    name: str
    id_areas: tuple[str, ...]  # 6-digit administrative codes used in residents' ID numbers
    tel_code: str  # landline area code


@dataclass(frozen=True)
class Product:
    code: str
    name: str
    type: str
    terms: tuple[str, ...]  # policy_term_years choices
    weight: float
    renewal: bool = False  # guaranteed renewal (保证续保)
    group: bool = False


@dataclass(frozen=True)
class Agent:
    code: str
    name: str
    phone: str
    branch: Branch


BRANCHES: tuple[Branch, ...] = (
    Branch("110100", "北京分公司", ("110101", "110105", "110108"), "010"),
    Branch("310100", "上海分公司", ("310101", "310104", "310115"), "021"),
    Branch("440100", "广东分公司", ("440103", "440106"), "020"),
    Branch("440300", "深圳分公司", ("440303", "440304", "440305"), "0755"),
    Branch("330100", "浙江分公司", ("330102", "330106"), "0571"),
    Branch("320100", "江苏分公司", ("320102", "320106"), "025"),
    Branch("370100", "山东分公司", ("370102", "370103"), "0531"),
    Branch("420100", "湖北分公司", ("420102", "420106"), "027"),
    Branch("510100", "四川分公司", ("510104", "510107"), "028"),
    Branch("500100", "重庆分公司", ("500103", "500106"), "023"),
    Branch("120100", "天津分公司", ("120101", "120103"), "022"),
    Branch("610100", "陕西分公司", ("610102", "610113"), "029"),
    Branch("430100", "湖南分公司", ("430102", "430104"), "0731"),
    Branch("410100", "河南分公司", ("410102", "410105"), "0371"),
    Branch("350100", "福建分公司", ("350102", "350104"), "0591"),
    Branch("340100", "安徽分公司", ("340102", "340104"), "0551"),
    Branch("210100", "辽宁分公司", ("210102", "210106"), "024"),
    Branch("130100", "河北分公司", ("130102", "130105"), "0311"),
    Branch("360100", "江西分公司", ("360102", "360111"), "0791"),
    Branch("530100", "云南分公司", ("530102", "530103"), "0871"),
)
BRANCH_WEIGHTS = (9, 9, 7, 7, 7, 7, 6, 5, 5, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3)

# Long-term business carries ~94% of the weight, one-year products ~5%, group business ~1%.
PRODUCTS: tuple[Product, ...] = (
    Product("T101", "鑫福年年终身寿险", "traditional", ("whole_life",), 14),
    Product("T102", "安康定期寿险", "traditional", ("10", "20", "30"), 10),
    Product("P201", "金满仓两全保险(分红型)", "participating", ("10", "20", "30"), 18),
    Product("P202", "福禄双喜年金保险(分红型)", "participating", ("20", "whole_life"), 12),
    Product("U301", "金账户年金保险(万能型)", "universal", ("20", "30", "whole_life"), 12),
    Product("I401", "优选投资连结保险", "investment_linked", ("10", "20"), 4),
    Product("H501", "康宁终身重大疾病保险", "health", ("whole_life",), 16),
    Product("H502", "守护定期重大疾病保险", "health", ("20", "30"), 8),
    Product("H601", "安心百万医疗保险", "health", ("1",), 2),
    Product("H602", "长相伴医疗保险(保证续保)", "health", ("1",), 1.5, renewal=True),
    Product("A701", "畅行意外伤害保险", "traditional", ("1",), 1.5),
    Product("G801", "团体意外伤害保险", "traditional", ("1",), 1, group=True),
)
CHANNELS = ("agency", "bancassurance", "intermediary", "telesales", "internet")
CHANNEL_WEIGHTS = (55, 25, 8, 7, 5)
FREQUENCIES = ("annual", "single", "monthly", "semiannual", "quarterly")
FREQUENCY_WEIGHTS = (60, 20, 10, 5, 5)
PREMIUM_RANGE = {"annual": (2_000, 60_000), "single": (10_000, 500_000), "monthly": (100, 3_000),
                 "semiannual": (1_000, 30_000), "quarterly": (500, 15_000)}
MOBILE_PREFIXES = ("130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "155", "156",
                   "158", "159", "166", "177", "180", "182", "185", "186", "187", "188", "189", "199")
BANK_BRANCHES = ("支行", "营业部", "分理处")
ZH_VALUES = {
    "traditional": "传统", "participating": "分红", "universal": "万能", "investment_linked": "投连",
    "health": "健康", "agency": "个险", "bancassurance": "银保", "intermediary": "经代", "telesales": "电销",
    "internet": "网销", "single": "趸交", "annual": "年交", "semiannual": "半年交", "quarterly": "季交",
    "monthly": "月交", "whole_life": "终身", "M": "男", "F": "女", "Y": "是", "N": "否",
}
ZH_COLUMNS = {"product_type", "channel", "payment_frequency", "policy_term_years", "applicant_gender",
              "guaranteed_renewal", "is_group", "insured_is_applicant", "agent_is_applicant", "dual_recorded"}
AGENTS = 2000
NAME_POOL = 3000
BIRTH_FIRST, BIRTH_LAST = date(1950, 1, 1).toordinal(), date(2004, 12, 31).toordinal()


def _pick_positions(rng: random.Random, count: int, shares: tuple[float, ...]) -> list[set[int]]:
    """Disjoint row positions for each special case, `share` of `count` each (at least 3 for the first)."""
    wanted = [round(count * share) for share in shares]
    wanted[0] = max(wanted[0], 3)
    chosen = rng.sample(range(count), min(count, sum(wanted)))
    out: list[set[int]] = []
    for n in wanted:
        out.append(set(chosen[:n]))
        chosen = chosen[n:]
    return out


def synthetic_rows(count: int, *, seed: int = 0, today: date, headers: str = "en") -> Iterator[dict[str, str]]:
    """`count` rows keyed by column identifier (headers="en") or Chinese label with Chinese values ("zh")."""
    if headers not in ("en", "zh"):
        raise ValueError("headers must be 'en' or 'zh'")
    rng = random.Random(seed)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    names = {"M": [fake.name_male() for _ in range(NAME_POOL)], "F": [fake.name_female() for _ in range(NAME_POOL)]}
    banks = [f"{fake.bank()}{fake.city_name()}{rng.choice(BANK_BRANCHES)}" for _ in range(300)]
    agent_pool = names["M"][: NAME_POOL // 2] + names["F"][NAME_POOL // 2:]

    # Phone suffixes are drawn without replacement, so every number below is distinct.
    shared_pool_size = max(1, round(count * 0.005) // 5)
    suffixes = iter(rng.sample(range(10**8), count + AGENTS + shared_pool_size))

    def mobile() -> str:
        return f"{rng.choice(MOBILE_PREFIXES)}{next(suffixes):08d}"

    branches = rng.choices(BRANCHES, BRANCH_WEIGHTS, k=AGENTS)
    agents = [Agent(f"A{b.code[:4]}{i:05d}", rng.choice(agent_pool), mobile(), b) for i, b in enumerate(branches)]
    shared_phones = [mobile() for _ in range(shared_pool_size)]
    shared_rows, agent_rows, invalid_rows = _pick_positions(rng, count, (0.005, 0.003, 0.003))
    shared_seen = 0
    used_ids: set[str] = set()
    weights = [p.weight for p in PRODUCTS]
    keys = {c.name: (c.label_zh if headers == "zh" else c.name) for c in COLUMNS}

    for i in range(count):
        product = rng.choices(PRODUCTS, weights)[0]
        agent = rng.choice(agents)
        branch = agent.branch
        channel = "agency" if product.group else rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        term = rng.choice(product.terms)
        if product.group or (term == "1" and rng.random() < 0.7):
            frequency = "single"  # group and most one-year business is paid in one premium
        else:
            frequency = rng.choices(FREQUENCIES, FREQUENCY_WEIGHTS)[0]
        if frequency == "single" or term == "1":
            years = 1
        else:
            years = rng.choice([y for y in (3, 5, 10, 15, 20) if term == "whole_life" or y <= int(term)])
        low, high = PREMIUM_RANGE[frequency] if term != "1" else (150, 3_000)
        premium = rng.randint(low, high)
        premium_text = f"{premium // 100 * 100}" if premium > 5_000 else f"{premium}.{rng.randint(0, 99):02d}"

        issue = today - timedelta(days=rng.randint(1, 30))
        signing = issue + timedelta(days=rng.randint(1, 5))
        # Empty when the customer has not signed yet, or the branch has not reported it.
        signed = None if signing > today or rng.random() < 0.03 else signing
        logged = signed + timedelta(days=rng.randint(0, 2)) if signed else None
        if logged and (logged > today or rng.random() < 0.03):
            logged = None

        gender = "M" if rng.random() < 0.5 else "F"
        birth = date.fromordinal(rng.randint(BIRTH_FIRST, BIRTH_LAST))
        area = rng.choice(branch.id_areas)
        id_no = make_resident_id(area, birth, rng.randint(0, 999), gender == "M")
        while id_no in used_ids:  # another applicant already holds this number
            id_no = make_resident_id(area, birth, rng.randint(0, 999), gender == "M")
        used_ids.add(id_no)
        applicant = rng.choice(names[gender])

        phone = mobile()
        if i in shared_rows:
            phone = shared_phones[shared_seen % shared_pool_size]
            shared_seen += 1
        elif i in agent_rows:
            phone = agent.phone
        elif i in invalid_rows:
            phone = phone[:10]  # a digit lost on data entry
        elif rng.random() < 0.02:
            phone = f"{phone[:3]} {phone[3:7]} {phone[7:]}"
        phone2 = ""
        if rng.random() < 0.05:
            phone2 = f"{branch.tel_code}-{rng.choice('6578')}{rng.randint(0, 9_999_999):07d}"

        insured_self = rng.random() < 0.7
        insured = applicant if insured_self else rng.choice(names["M" if rng.random() < 0.5 else "F"])
        dual = "Y" if channel == "bancassurance" and rng.random() < 0.2 else ""
        row = {
            "policy_no": f"P{today:%Y%m}{i + 1:07d}",
            "product_code": product.code,
            "product_name": product.name,
            "product_type": product.type,
            "channel": channel,
            "policy_term_years": term,
            "guaranteed_renewal": "Y" if product.renewal else "N",
            "is_group": "Y" if product.group else "N",
            "premium": premium_text,
            "payment_frequency": frequency,
            "payment_years": str(years),
            "issue_date": issue.isoformat(),
            "receipt_signed_date": signed.isoformat() if signed else "",
            "receipt_logged_date": logged.isoformat() if logged else "",
            "cooling_off_days": rng.choice(("15", "20")) if rng.random() < 0.1 else "",
            "applicant_name": applicant,
            "applicant_gender": gender,
            "applicant_birth_date": birth.isoformat(),
            "applicant_id_no": id_no,
            "applicant_phone": phone,
            "applicant_phone2": phone2,
            "insured_name": insured,
            "insured_is_applicant": "Y" if insured_self else "N",
            "agent_code": agent.code,
            "agent_name": agent.name,
            "agent_phone": agent.phone,
            "agent_is_applicant": "N",
            "branch_code": branch.code,
            "branch_name": branch.name,
            "bank_name": rng.choice(banks) if channel == "bancassurance" else "",
            "dual_recorded": dual,
        }
        if headers == "zh":
            yield {keys[k]: (ZH_VALUES.get(v, v) if k in ZH_COLUMNS else v) for k, v in row.items()}
        else:
            yield row


def write_csv(path: Path, count: int, *, seed: int = 0, today: date, chinese_headers: bool = False) -> int:
    """Write `count` rows as UTF-8 CSV (with a BOM and Chinese headers and values when asked); returns rows."""
    headers = "zh" if chinese_headers else "en"
    fieldnames = [c.label_zh if chinese_headers else c.name for c in COLUMNS]
    written = 0
    with path.open("w", encoding="utf-8-sig" if chinese_headers else "utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames)
        writer.writeheader()
        for row in synthetic_rows(count, seed=seed, today=today, headers=headers):
            writer.writerow(row)
            written += 1
    return written
