"""Demo data of the evaluation service and the recommended catalog, for `gaodi demo` (Art. 10, 15, 66, 67).

Call `load_evaluation_demo(rng)` after the core demo: it finds approved filings of three different
enterprises, the demo testing institution (T01) and the reviewers of each filing's department. For each
filing the enterprise trains a small scikit-learn model on generated data (hiring screening, small-business
credit, or personalised coupons, whichever fits the filing's name), saves it as a skops file and requests
an evaluation at T01 with a generated test set (CSV, Chinese columns and values such as 性别/年龄段/地区)
and a TOML plan with thresholds. Everything goes through the actions and forms, as on the web pages:

1. a model that passes its thresholds: accepted, run by the worker's task (inline: the data is small),
   issued with a certificate signed by the platform key, nominated by the enterprise and approved into
   the recommended catalog by a reviewer of the filing's department;
2. a second model that passes: accepted, run and issued (the enterprise may still nominate it);
3. a model trained on historically biased decisions that takes the age band as an input: accepted and
   run; its report honestly says *not passed* (demographic parity ratio below 0.8 on 年龄段, and the
   differential-treatment test shows decisions change with age alone). It waits for the institution to
   issue it, and the enterprise has already requested an evaluation of a retrained model without the age
   band (left *requested*, for the institution to accept in the demo).

Why the fair models pass for every seed: in the generated test sets the sensitive attributes are assigned
by blocked randomisation over the applicants sorted by their merit (each block of as many applicants as the
column has groups gets every group once), so every group has the same spread of qualifications, and a model
that decides on merit selects each group at nearly the same rate (demographic parity ratios of 0.84 or more
over seeds 0-59 of all three scenarios). The biased model's age penalty is large enough that its age-band
ratio stays at 0.53 or below over the same seeds. Should a seed ever break either, the loader stops with an
error instead of loading a misleading demo. Deterministic for a given rng state (data, models, plans,
outcomes); certificate ids, request tokens and timestamps follow the clock, and skops files embed their
write time.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from django.core.files.uploadedfile import SimpleUploadedFile

from gaodi.apps.core.choices import OrgKind, Role
from gaodi.apps.core.models import Organization, User

from . import catalog_actions, evaluation_actions
from .catalog_forms import NominationForm
from .evaluation_forms import EvaluationRequestForm
from .evaluation_models import EvaluationRequest, EvaluationState
from .evaluation_tasks import run_evaluation
from .models import AlgorithmFiling, State

TEST_ROWS = 480
TRAIN_ROWS = 1500
NOISE = 0.55  # outcome noise, relative to the spread of merit: accuracy of a merit-only model ~0.8


@dataclass(frozen=True)
class Attribute:
    """A categorical column: its name, English name and values (Chinese, English)."""

    name: str
    en: str
    values: tuple[tuple[str, str], ...]

    @property
    def labels(self) -> list[str]:
        return [v for v, _ in self.values]


Merit = Callable[[np.random.Generator, int], tuple[dict[str, Any], np.ndarray]]


@dataclass(frozen=True)
class Scenario:
    key: str
    keywords: tuple[str, ...]  # a filing whose name holds one of these fits the scenario
    model_name: str  # 招聘筛选模型
    target: str  # the outcome column (是/否)
    target_en: str
    outcome: tuple[str, str]  # what "selected" means, for the summary
    sensitive: tuple[Attribute, Attribute, Attribute]  # sex, age band (the biased model's input), region
    features: tuple[tuple[str, str], ...]  # the merit inputs, (name, English name)
    categorical: tuple[str, ...]  # which of the features are categorical
    merit: Merit
    penalty: dict[str, float]  # age band -> penalty (in standard deviations of merit) in the historical decisions
    justification: str


def _hiring(g: np.random.Generator, n: int) -> tuple[dict[str, Any], np.ndarray]:
    education = g.choice(["大专", "本科", "硕士", "博士"], n, p=[0.25, 0.45, 0.22, 0.08])
    years = g.integers(0, 21, n)
    skill = g.integers(40, 101, n)
    interview = np.round(g.uniform(1.0, 5.0, n), 1)
    weight = {"大专": 0.0, "本科": 0.5, "硕士": 0.9, "博士": 1.1}
    merit = np.array([weight[e] for e in education]) + 0.06 * years + 0.04 * skill + 0.5 * interview
    return {"学历": education, "工作年限": years, "技能测评分": skill, "面试评分": interview}, merit


def _credit(g: np.random.Generator, n: int) -> tuple[dict[str, Any], np.ndarray]:
    grade = g.choice(["A", "B", "M", "C", "D"], n, p=[0.3, 0.35, 0.15, 0.12, 0.08])
    years = g.integers(1, 16, n)
    invoices = np.round(np.exp(g.normal(np.log(400), 0.8, n)), 1)
    staff = g.integers(3, 201, n)
    overdue = g.choice([0, 1, 2, 3], n, p=[0.65, 0.2, 0.1, 0.05])
    weight = {"A": 1.0, "B": 0.6, "M": 0.3, "C": 0.0, "D": -0.8}
    merit = (np.array([weight[x] for x in grade]) + 0.06 * years + 0.4 * np.log(invoices / 400) + 0.004 * staff
             - 0.5 * overdue)
    return {"纳税信用等级": grade, "经营年限": years, "年开票金额万元": invoices, "社保缴纳人数": staff,
            "近一年逾期次数": overdue}, merit


def _coupons(g: np.random.Generator, n: int) -> tuple[dict[str, Any], np.ndarray]:
    level = g.choice(["普通会员", "银卡会员", "金卡会员"], n, p=[0.6, 0.3, 0.1])
    orders = g.integers(0, 31, n)
    active = g.integers(0, 31, n)
    basket = np.round(g.uniform(20, 500, n), 1)
    weight = {"普通会员": 0.0, "银卡会员": 0.4, "金卡会员": 0.8}
    merit = np.array([weight[x] for x in level]) + 0.05 * orders + 0.04 * active + 0.001 * basket
    return {"会员等级": level, "近90天下单次数": orders, "近30天活跃天数": active, "平均客单价元": basket}, merit


_SEX = Attribute("性别", "sex", (("男", "men"), ("女", "women")))

SCENARIOS: dict[str, Scenario] = {
    "hiring": Scenario(
        "hiring", ("招聘", "求职", "人力"), "招聘筛选模型", "录用", "hired", ("录用率", "hiring rate"),
        (_SEX,
         Attribute("年龄段", "age band", (("18-29岁", "aged 18-29"), ("30-39岁", "aged 30-39"),
                                         ("40-49岁", "aged 40-49"), ("50岁及以上", "aged 50 and over"))),
         Attribute("地区", "district", (("浦东新区", "Pudong"), ("徐汇区", "Xuhui"), ("闵行区", "Minhang"),
                                       ("宝山区", "Baoshan")))),
        (("学历", "education"), ("工作年限", "years of experience"), ("技能测评分", "skills test score"),
         ("面试评分", "interview score")),
        ("学历",), _hiring, {"40-49岁": -0.3, "50岁及以上": -0.9},
        "该招聘筛选模型只依据学历、工作经验、技能测评和面试评分作出推荐，经第三方测评，各性别、年龄段和地区求职者的"
        "录用推荐率差异均在五分之四规则之内，可作为人力资源服务领域公平招聘的示范。"),
    "credit": Scenario(
        "credit", ("信贷", "风控", "授信", "金融"), "小微企业信贷风控模型", "按期还款", "repaid on time",
        ("授信通过率", "approval rate"),
        (Attribute("企业主性别", "owner's sex", (("男", "men"), ("女", "women"))),
         Attribute("企业主年龄段", "owner's age band", (("18-34岁", "aged 18-34"), ("35-44岁", "aged 35-44"),
                                                  ("45-54岁", "aged 45-54"), ("55岁及以上", "aged 55 and over"))),
         Attribute("所在区", "district", (("浦东新区", "Pudong"), ("嘉定区", "Jiading"), ("松江区", "Songjiang"),
                                        ("崇明区", "Chongming")))),
        (("纳税信用等级", "tax credit grade"), ("经营年限", "years in business"),
         ("年开票金额万元", "annual invoices (10k yuan)"), ("社保缴纳人数", "insured staff"),
         ("近一年逾期次数", "late payments last year")),
        ("纳税信用等级",), _credit, {"45-54岁": -0.3, "55岁及以上": -0.9},
        "该模型只使用企业授权的纳税、开票、社保和还款记录评估小微企业信用，不使用企业主的性别、年龄和籍贯；经第三方测评，"
        "各类企业主和各区企业的授信通过率差异均在五分之四规则之内，有助于扩大普惠金融覆盖面。"),
    "coupons": Scenario(
        "coupons", (), "个性化优惠券推送模型", "7日内下单", "ordered within 7 days", ("优惠券推送率", "coupon rate"),
        (_SEX,
         Attribute("年龄段", "age band", (("18-29岁", "aged 18-29"), ("30-44岁", "aged 30-44"),
                                         ("45-59岁", "aged 45-59"), ("60岁及以上", "aged 60 and over"))),
         Attribute("地区", "district", (("黄浦区", "Huangpu"), ("静安区", "Jing'an"), ("杨浦区", "Yangpu"),
                                       ("青浦区", "Qingpu")))),
        (("会员等级", "membership level"), ("近90天下单次数", "orders in 90 days"),
         ("近30天活跃天数", "active days in 30 days"), ("平均客单价元", "average order (yuan)")),
        ("会员等级",), _coupons, {"45-59岁": -0.3, "60岁及以上": -0.9},
        "该模型只依据会员等级和近期购买、活跃记录推送优惠，经第三方测评，不同性别、年龄段（含老年用户）和地区用户获得"
        "优惠的比例差异均在五分之四规则之内，没有利用用户画像实施差别待遇。"),
}


def _generator(rng: random.Random) -> np.random.Generator:
    return np.random.default_rng(rng.getrandbits(64))


def _outcome(scenario: Scenario, merit: np.ndarray, g: np.random.Generator, cut: float) -> np.ndarray:
    return np.where(merit + g.normal(0.0, NOISE * float(np.std(merit)), len(merit)) > cut, "是", "否")


def _blocked(values: list[str], order: np.ndarray, g: np.random.Generator) -> np.ndarray:
    """Blocked randomisation: along `order` (applicants by merit), each block of len(values) rows gets
    every value once, in random order; so every group has the same spread of merit."""
    out = np.empty(len(order), dtype=object)
    for start in range(0, len(order), len(values)):
        block = order[start:start + len(values)]
        out[block] = g.permutation(values)[:len(block)]
    return out


@dataclass
class _Case:
    """One generated test set with the models trained for it."""

    scenario: Scenario
    data_csv: bytes
    fair_model: bytes
    biased_model: bytes | None


def _pipeline(categorical: list[str], numeric: list[str]):
    """One-hot encoding, scaling and a logistic regression. Only types that skops trusts by default: the
    service has no step to approve others (a SimpleImputer, for one, would need numpy.dtype approved)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ColumnTransformer([("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
                                 ("numeric", StandardScaler(), numeric)])
    return make_pipeline(columns, LogisticRegression(max_iter=500))


def _skops(model) -> bytes:
    import skops.io as sio

    return sio.dumps(model)


def make_case(scenario: Scenario, g: np.random.Generator, biased: bool) -> _Case:
    """Training data, a merit-only model (and with `biased`, a model that learnt from historical decisions
    penalising older people and takes the age band as an input), and a test set with fair ground truth."""
    age = scenario.sensitive[1]
    features = [f for f, _ in scenario.features]
    numeric = [f for f in features if f not in scenario.categorical]

    columns, merit = scenario.merit(g, TRAIN_ROWS)
    cut = float(np.quantile(merit, 0.55))
    train = pl.DataFrame({**columns, age.name: g.choice(age.labels, TRAIN_ROWS)})
    fair = _pipeline(list(scenario.categorical), numeric).fit(train.select(features), _outcome(scenario, merit, g, cut))
    biased_model = None
    if biased:
        spread = float(np.std(merit))
        penalty = spread * np.array([scenario.penalty.get(a, 0.0) for a in train.get_column(age.name).to_list()])
        history = _outcome(scenario, merit + penalty, g, cut)
        biased_model = _pipeline([*scenario.categorical, age.name], numeric).fit(
            train.select([*features, age.name]), history)

    columns, merit = scenario.merit(g, TEST_ROWS)
    order = np.argsort(merit, kind="stable")
    test = pl.DataFrame({
        "编号": [f"{i + 1:04d}" for i in range(TEST_ROWS)],
        **{a.name: _blocked(a.labels, order, g).tolist() for a in scenario.sensitive},
        **columns,
        scenario.target: _outcome(scenario, merit, g, cut),
    })
    buffer = io.BytesIO()
    test.write_csv(buffer)
    return _Case(scenario, buffer.getvalue(), _skops(fair),
                 _skops(biased_model) if biased_model is not None else None)


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


def make_plan(scenario: Scenario, title: str, seed: int, with_age: bool) -> str:
    """The TOML test plan: thresholds on accuracy, ROC AUC and the demographic parity ratio; with the age band
    as a model input, the differential-treatment test on it."""
    sex, age = scenario.sensitive[:2]
    features = [f for f, _ in scenario.features] + ([age.name] if with_age else [])
    lines = [
        f"title = {_toml(title)}",
        'task = "classification"',
        f"target = {_toml(scenario.target)}",
        'positive_label = "是"',
        'labels = ["是", "否"]',
        f"features = {_toml(features)}",
        f"sensitive = {_toml([a.name for a in scenario.sensitive])}",
        f"intersections = [{_toml([sex.name, age.name])}]",
        "",
        "[reference_groups]",
        f"{_toml(sex.name)} = {_toml(sex.labels[0])}",
        f"{_toml(age.name)} = {_toml(age.labels[0])}",
        "",
        "[groups]",
        *(f"{_toml(a.name)} = {_toml(a.labels)}" for a in scenario.sensitive),
        "",
        "[thresholds]",
        "accuracy = { min = 0.7 }",
        "roc_auc = { min = 0.75 }",
        "demographic_parity_ratio = { min = 0.8 }",
        "",
        "[options]",
        "bootstrap = 100",
        "min_group_size = 30",
        f"seed = {seed}",
        "",
    ]
    if with_age:
        lines += ["[counterfactual]", f"attribute = {_toml(age.name)}", "max_rows = 300", ""]
    lines += [
        # No "missing": like most deployed scoring models, these take complete rows only.
        "[robustness]", "severities = [0.1, 0.3]", 'perturbations = ["noise", "swap"]', "max_rows = 300", "",
        "[explanation]", "top_k = 2", "repeats = 2", "max_rows = 300", "grid = 5", "",
    ]
    names: list[tuple[str, str, str]] = [(f, f, en) for f, en in scenario.features]
    for attribute in scenario.sensitive:
        names.append((attribute.name, attribute.name, attribute.en))
        names += [(f"{attribute.name}.{zh}", zh, en) for zh, en in attribute.values]
    names += [(scenario.target, scenario.target, scenario.target_en), ("outcome", *scenario.outcome)]
    for key, zh, en in names:
        lines += [f"[names.{_toml(key)}]", f"zh = {_toml(zh)}", f"en = {_toml(en)}"]
    return "\n".join(lines) + "\n"


def scenario_for(filing: AlgorithmFiling) -> Scenario:
    return next((s for s in SCENARIOS.values() if any(k in filing.name for k in s.keywords)), SCENARIOS["coupons"])


def _pick_filings(count: int) -> list[AlgorithmFiling]:
    """Approved filings of `count` different enterprises with members: hiring and credit algorithms first
    (their test sets fit them best), then the others, each group in filing order."""
    candidates = list(AlgorithmFiling.objects.filter(
        state=State.APPROVED, organization__memberships__role__in=[Role.MEMBER, Role.ADMIN],
    ).distinct().select_related("organization", "department").order_by("pk"))
    rank = {"hiring": 0, "credit": 1, "coupons": 2}
    candidates.sort(key=lambda f: (rank[scenario_for(f).key], f.pk))
    picked: list[AlgorithmFiling] = []
    for filing in candidates:
        if filing.organization_id not in {f.organization_id for f in picked}:
            picked.append(filing)
        if len(picked) == count:
            break
    return picked


def _member(org: Organization) -> User:
    return (User.objects.filter(memberships__organization=org, memberships__role__in=[Role.MEMBER, Role.ADMIN])
            .order_by("username").first())


def _reviewer(department: Organization) -> User | None:
    return (User.objects.filter(memberships__organization=department, memberships__role=Role.REVIEWER)
            .order_by("username").first())


def _institution() -> tuple[Organization, User] | tuple[None, None]:
    institutions = Organization.objects.filter(kind=OrgKind.TESTING_INSTITUTION).order_by("code")
    for institution in [*institutions.filter(code="T01"), *institutions.exclude(code="T01")]:
        user = (User.objects.filter(memberships__organization=institution).order_by("username").first())
        if user is not None:
            return institution, user
    return None, None


def _request(member: User, filing: AlgorithmFiling, institution: Organization, plan: str, model: bytes,
             model_name: str, data: bytes, data_name: str) -> EvaluationRequest:
    form = EvaluationRequestForm(data={"institution": institution.pk, "plan": plan}, files={
        "model": SimpleUploadedFile(model_name, model, "application/octet-stream"),
        "data": SimpleUploadedFile(data_name, data, "text/csv")})
    return evaluation_actions.request_evaluation(member, filing, form)


def _run(tester: User, request: EvaluationRequest) -> EvaluationRequest:
    """The institution accepts; the worker's task runs inline (small data), as `gaodi worker` would run it."""
    request = evaluation_actions.accept(tester, request)
    run_evaluation.call(request.pk, request.attempt)
    request.refresh_from_db()
    if request.state != EvaluationState.COMPLETED:
        raise RuntimeError(f"demo evaluation of {request.filing.name} failed: {request.failure_reason}")
    return request


def load_evaluation_demo(rng: random.Random) -> dict[str, Any]:
    """Needs the core demo (approved filings of enterprises with members, a testing institution with a
    member, department reviewers). Returns what was made: counts, and each request with its state."""
    institution, tester = _institution()
    filings = _pick_filings(3)
    if institution is None or tester is None or not filings:
        return {"requests": 0, "certificates": 0, "catalog_entries": 0, "by_state": {}, "evaluations": []}
    g = _generator(rng)
    made: list[dict[str, Any]] = []

    def record(request: EvaluationRequest, role: str, catalog: str | None = None) -> None:
        request.refresh_from_db()
        certificate = getattr(request, "certificate", None)
        made.append({"id": request.pk, "filing": request.filing_id, "scenario": scenario_for(request.filing).key,
                     "role": role, "state": request.state, "passed": request.passed,
                     "certificate": certificate.certificate_id if certificate else None, "catalog": catalog})

    roles = ["catalog", "issued", "not_passed"][:len(filings)]
    # The biased model goes to the best-fitting filing (a hiring one, Art. 67, where there is one).
    if len(filings) == 3:
        filings = [filings[1], filings[2], filings[0]]
    for filing, role in zip(filings, roles, strict=True):
        scenario = scenario_for(filing)
        member = _member(filing.organization)
        case = make_case(scenario, g, biased=role == "not_passed")
        title = f"{filing.name}：{scenario.model_name}测评"
        data_name = f"{scenario.model_name}测试集.csv"
        if role != "not_passed":
            plan = make_plan(scenario, title, rng.randint(0, 10**6), with_age=False)
            request = _request(member, filing, institution, plan, case.fair_model, f"{scenario.model_name}-v1.skops",
                               case.data_csv, data_name)
            request = _run(tester, request)
            if request.passed is not True:
                raise RuntimeError(f"demo model for {filing.name} did not pass: {request.summary_zh}")
            evaluation_actions.issue(tester, request)
            state = None
            if role == "catalog":
                request.refresh_from_db()
                entry = catalog_actions.nominate(member, request,
                                                 NominationForm(data={"justification": scenario.justification}))
                reviewer = _reviewer(filing.department)
                if reviewer is not None:
                    entry = catalog_actions.approve(reviewer, entry, "测评证书有效，全部阈值检查通过，同意列入推荐目录。")
                state = entry.state
            record(request, role, state)
            continue
        # A model that learnt from biased historical decisions: an honest "not passed" report.
        assert case.biased_model is not None
        plan = make_plan(scenario, title, rng.randint(0, 10**6), with_age=True)
        request = _request(member, filing, institution, plan, case.biased_model, f"{scenario.model_name}-v1.skops",
                           case.data_csv, data_name)
        request = _run(tester, request)
        if request.passed is not False:
            raise RuntimeError(f"demo biased model for {filing.name} was expected to fail its fairness threshold")
        record(request, role)
        # The enterprise retrained without the age band and asks for a new evaluation (left for T01 to accept).
        plan = make_plan(scenario, f"{filing.name}：{scenario.model_name}（重新训练，去除年龄段）测评",
                         rng.randint(0, 10**6), with_age=False)
        retrained = _request(member, filing, institution, plan, case.fair_model, f"{scenario.model_name}-v2.skops",
                             case.data_csv, data_name)
        record(retrained, "retrained")

    by_state: dict[str, int] = {}
    for item in made:
        by_state[item["state"]] = by_state.get(item["state"], 0) + 1
    return {"requests": len(made), "certificates": sum(1 for m in made if m["certificate"]),
            "catalog_entries": sum(1 for m in made if m["catalog"]), "by_state": dict(sorted(by_state.items())),
            "evaluations": made}
