"""Web catalog benchmark: the public filing list and search at scale, against a bare Django page.

    uv run python bench/web_catalog.py [--filings 100000] [--clients 16] [--requests N]
                                       [--database-url URL] [--keep] [--json] [--explain]

What it does, end to end:

1. (Re)creates its own PostgreSQL database (default ``postgres://postgres@127.0.0.1:5432/gaodi_bench``;
   dropped and created through the server's ``postgres`` database, unless ``--keep`` is given and the
   database already holds the requested data) and runs ``gaodi migrate`` against it in a subprocess.
2. Bulk-loads about 1,000 enterprises across Shanghai's 16 districts, 2 departments, 1 user and N
   APPROVED filings (version 1, filing numbers in ``issue_filing_number``'s REGION-ORG-YEAR-SERIAL
   format, approved over the last three years) with varied Chinese texts built from word lists, and
   their rows in the PostgreSQL search table: ``strip(to_tsvector('simple', tokens))`` of
   ``search_text(actions.filing_search_body(f))``, exactly what ``approve_filing`` indexes. Then
   ``VACUUM ANALYZE``.
3. Starts gunicorn (``gaodi.config.wsgi``) on a free local port with ``GAODI_URLCONF=bench.baseline_urls``,
   which adds ``/bench/bare/``: a view rendering a template that only extends ``base.html``.
4. Drives it with C keep-alive client threads: a warm-up, then for each scenario a fixed number of
   requests (with a time cap so it always stops), and prints p50/p95 latency and throughput, each
   also as a ratio to the bare page. Any non-200 answer fails the run.
5. Runs each scenario once in-process, captures its SQL and times every statement with
   ``EXPLAIN ANALYZE`` (``--explain`` prints the plans), so a slow page can be traced to its query.

The server is always stopped at the end, also on error or Ctrl-C. Benchmarks never run in the test
suite; see bench/README.md and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/gaodi_bench"
SEED = 20220922  # the day the regulation was adopted

# (name, path, what it measures)
SCENARIOS: list[tuple[str, str, str]] = [
    ("bare", "/bench/bare/", "bare Django view rendering only base.html"),
    ("list", "/filings/", "public list, first page"),
    ("list_filtered", "/filings/?" + urlencode({"category": "recommendation", "district": "310104"}),
     "list filtered by category and district"),
    ("list_page50", "/filings/?page=50", "list, page 50"),
    ("search_zh", "/filings/?" + urlencode({"q": "推荐算法"}), "search, Simplified Chinese"),
    ("search_hant", "/filings/?" + urlencode({"q": "推薦"}), "search, Traditional Chinese"),
    ("search_en", "/filings/?" + urlencode({"q": "recommendation"}), "search, English"),
]
COUNT_RE = re.compile(r"共\s*([\d,]+)\s*项")


_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _T0:7.1f}s] {message}", file=sys.stderr, flush=True)


# ---- synthetic catalog -------------------------------------------------------------------------

BRAND_1 = [("星", "Xing"), ("云", "Yun"), ("智", "Zhi"), ("深", "Shen"), ("蓝", "Lan"), ("极", "Ji"),
           ("天", "Tian"), ("数", "Shu"), ("灵", "Ling"), ("启", "Qi"), ("瑞", "Rui"), ("华", "Hua"),
           ("博", "Bo"), ("睿", "Rui"), ("联", "Lian"), ("新", "Xin"), ("海", "Hai"), ("东", "Dong"),
           ("明", "Ming"), ("远", "Yuan"), ("卓", "Zhuo"), ("众", "Zhong"), ("优", "You"), ("微", "Wei"),
           ("言", "Yan"), ("图", "Tu"), ("视", "Shi"), ("光", "Guang"), ("量", "Liang"), ("晨", "Chen")]
BRAND_2 = [("辰", "chen"), ("境", "jing"), ("度", "du"), ("航", "hang"), ("策", "ce"), ("维", "wei"),
           ("行", "xing"), ("知", "zhi"), ("迹", "ji"), ("擎", "qing"), ("元", "yuan"), ("象", "xiang"),
           ("途", "tu"), ("芯", "xin"), ("脉", "mai"), ("影", "ying"), ("声", "sheng"), ("语", "yu"),
           ("算", "suan"), ("弈", "yi"), ("峰", "feng"), ("川", "chuan"), ("禾", "he"), ("桥", "qiao"),
           ("帆", "fan"), ("衡", "heng"), ("达", "da"), ("数", "shu"), ("云", "yun")]
INDUSTRY_WORDS = [("科技", "Technology"), ("信息技术", "Information Technology"), ("网络科技", "Network Technology"),
                  ("智能科技", "Intelligent Technology"), ("数据科技", "Data Technology"),
                  ("人工智能", "Artificial Intelligence")]
# Rough weights: more AI enterprises in Xuhui, Pudong, Minhang, Yangpu than in the outer districts.
DISTRICT_WEIGHTS = {"310101": 4, "310104": 10, "310105": 5, "310106": 6, "310107": 4, "310109": 3,
                    "310110": 8, "310112": 9, "310113": 3, "310114": 5, "310115": 14, "310116": 2,
                    "310117": 5, "310118": 3, "310120": 2, "310151": 1}

# (domain, item, app word)
DOMAINS = [
    ("电子商务", "商品", "商城"), ("新闻资讯", "资讯", "新闻"), ("短视频", "视频", "视频"),
    ("本地生活", "外卖商家", "外卖"), ("网约车出行", "行程", "出行"), ("金融信贷", "信贷产品", "金融"),
    ("在线教育", "课程", "学堂"), ("医疗健康", "医生与科室", "健康"), ("招聘求职", "职位", "招聘"),
    ("音乐音频", "歌曲", "音乐"), ("社交网络", "好友与话题", "社区"), ("智能制造", "工单", "工厂"),
    ("城市交通", "信号配时", "交通"), ("政务服务", "办事事项", "政务"), ("游戏娱乐", "游戏内容", "游戏"),
    ("酒店旅游", "酒店与景点", "旅行"),
]
NAME_SUFFIXES = ["", "", "", "（移动端）", "（网页端）", "V2", "2.0版", "（小程序）"]
PLACES = ["首页", "搜索页", "消息中心", "详情页", "个人中心"]

TEXTS: dict[str, dict[str, list[str]]] = {
    "recommendation": {
        "nouns": ["个性化推荐", "内容推荐", "猜你喜欢推荐", "智能推荐"],
        "slug": ["recommend"],
        "scenarios": ["{app}App首页信息流与详情页的{item}推荐", "{domain}平台的{item}个性化推送与消息提醒",
                      "{app}小程序中“猜你喜欢”栏目的{item}推荐"],
        "principle": ["基于用户浏览、点击与收藏记录的协同过滤召回与深度排序模型",
                      "双塔向量召回结合梯度提升树精排的多目标推荐模型",
                      "基于知识图谱与用户兴趣标签的混合推荐模型"],
        "mechanism": ["离线训练召回与排序模型，在线根据实时行为生成候选并排序展示；用户可在设置中关闭个性化推荐",
                      "每日更新用户兴趣画像，请求时召回数百个候选{item}，经过滤、打散后展示前二十个；提供不感兴趣反馈入口",
                      "按会话实时更新兴趣向量，新用户使用热门{item}冷启动，推荐结果定期人工抽检"],
        "purpose": ["帮助用户发现感兴趣的{item}，提升浏览效率", "为用户提供与其兴趣相关的{item}，减少无关信息打扰"],
        "public_text": ["本算法根据您在{app}的浏览和使用记录，为您推荐可能感兴趣的{item}。您可以在“设置—隐私”中关闭个性化推荐，关闭后将按热度展示。",
                        "我们会参考您最近查看、收藏的{item}来排列推荐内容，不使用您的敏感个人信息；您可以随时删除浏览记录或关闭推荐。",
                        "推荐结果由算法根据您的兴趣自动生成，您可以点击“不感兴趣”减少同类{item}，也可以一键切换为非个性化模式。"],
    },
    "generation": {
        "nouns": ["智能文案生成", "图像生成合成", "智能对话", "语音合成", "数字人视频生成"],
        "slug": ["generate", "chat"],
        "scenarios": ["{app}App内的智能客服对话与{item}咨询答复", "商家{item}宣传文案与海报的自动生成",
                      "{domain}场景下的语音播报与虚拟主播合成"],
        "principle": ["基于Transformer架构的大语言模型，经领域数据微调与人类反馈强化学习对齐",
                      "扩散模型根据文本描述生成图像，结合安全过滤模型审核输出",
                      "端到端神经网络语音合成模型，支持多音色与情感控制"],
        "mechanism": ["用户输入提示词后，模型生成候选内容，经敏感词与安全模型过滤后输出，并在生成内容中添加显式标识",
                      "生成请求先经意图识别与合规审核，再调用模型生成{item}相关内容，输出前进行事实核验与水印标注",
                      "模型按周更新，上线前经红队测试；生成记录保存六个月以备投诉核查"],
        "purpose": ["提高{item}相关内容的生产效率，为用户提供即时答复", "降低{domain}服务的人工客服压力，缩短响应时间"],
        "public_text": ["本服务使用生成式人工智能为您生成文字、图片或语音内容，生成内容均带有“AI生成”标识，可能存在错误，请您核实后使用。",
                        "您与智能助手的对话由算法自动生成答复，涉及{item}的重要决定请以人工客服或官方公告为准，您可随时转接人工。"],
    },
    "ranking": {
        "nouns": ["热榜排序", "搜索结果排序", "精选榜单", "评分排序"],
        "slug": ["rank", "search"],
        "scenarios": ["{app}App热门榜单与精选专题的{item}排序", "{domain}平台搜索结果页的{item}排序",
                      "{app}频道页的优质{item}精选"],
        "principle": ["综合点击率、完成率、时效性与质量分的加权排序模型",
                      "基于学习排序（LambdaMART）的搜索相关性模型，结合人工标注的质量分",
                      "热度衰减公式结合反作弊识别的榜单计算方法"],
        "mechanism": ["每十分钟重新计算榜单，剔除刷量与违规{item}后按综合分排序，人工编辑可置顶重要公共信息",
                      "查询经分词与意图识别后召回候选{item}，按相关性与质量分排序，广告位单独标注“广告”"],
        "purpose": ["让用户更快找到优质、相关的{item}", "保证榜单与搜索结果客观公正，减少刷量操纵"],
        "public_text": ["榜单按{item}的热度、时效与质量综合排序，不接受付费改变自然排名；广告内容均有明显标注。",
                        "搜索结果按与您的查询的相关程度排序，您可以切换为按时间或按评分排序。"],
    },
    "retrieval": {
        "nouns": ["内容审核过滤", "搜索检索", "垃圾信息过滤", "风险内容识别"],
        "slug": ["filter", "moderation"],
        "scenarios": ["{app}App用户发布内容与评论的审核过滤", "{domain}平台违法违规{item}的识别与拦截",
                      "{app}站内搜索的敏感词过滤与结果检索"],
        "principle": ["文本、图像多模态分类模型识别违法违规与不良信息",
                      "关键词规则与深度语义模型结合的风险识别方法",
                      "向量检索结合倒排索引的混合检索模型"],
        "mechanism": ["内容发布时实时识别，高风险内容拦截，中风险内容转人工复核，用户可对误判申诉",
                      "每日更新风险样本库，模型识别结果由人工抽检校准，申诉在三个工作日内处理完毕"],
        "purpose": ["维护清朗的网络空间，保护用户免受违法和不良信息侵害", "提升{item}检索的准确性，过滤垃圾与欺诈信息"],
        "public_text": ["您发布的内容会经过算法和人工审核，如被误判，您可以在“我的—申诉”中提出申诉，我们将在三个工作日内答复。",
                        "平台使用算法识别垃圾、欺诈和违法信息，被拦截的{item}会告知原因，您可以申请人工复核。"],
    },
    "scheduling": {
        "nouns": ["智能派单", "路径规划调度", "运力调度", "信贷审批决策", "排班调度"],
        "slug": ["dispatch", "schedule"],
        "scenarios": ["{domain}订单与服务人员的实时匹配派单", "{app}配送与出行路线的规划调度",
                      "{domain}业务的自动审批与额度决策"],
        "principle": ["以预计到达时间与服务质量为目标的二分图匹配与强化学习调度模型",
                      "基于运筹优化的路径规划与时间窗调度算法",
                      "基于逻辑回归与梯度提升树的信用评分与决策规则"],
        "mechanism": ["每隔数秒批量匹配待派订单与空闲人员，设置劳动时长上限与休息提醒，保障从业人员权益",
                      "根据实时路况与订单时间窗规划路线，预计时间偏差过大时人工调度介入",
                      "申请资料经规则校验与评分模型评估后给出审批结果，被拒用户可申请人工复核并获知主要原因"],
        "purpose": ["提高{domain}服务的匹配效率，缩短等待时间", "在控制风险的同时公平、及时地作出{item}相关决定"],
        "public_text": ["派单算法综合距离、预计到达时间和服务评价分配订单，不因性别、年龄等因素区别对待，从业人员连续工作四小时将强制休息。",
                        "审批结果由算法根据您提交的资料自动作出，如有异议，您可以申请人工复核，我们会告知影响结果的主要因素。"],
    },
}
CATEGORY_WEIGHTS = {"recommendation": 30, "generation": 25, "ranking": 15, "retrieval": 15, "scheduling": 15}


@dataclass
class Catalog:
    filings: int
    organizations: int = 0
    load_seconds: float = 0.0
    index_seconds: float = 0.0
    distinct_texts: int = 0


# ---- database ----------------------------------------------------------------------------------

def _pg_params(url: str) -> dict:
    import dj_database_url

    cfg = dj_database_url.parse(url)
    if "postgresql" not in cfg["ENGINE"]:
        raise SystemExit(f"--database-url must be a PostgreSQL URL, got {url!r}")
    params = {"dbname": cfg["NAME"], "user": cfg["USER"] or None, "password": cfg["PASSWORD"] or None,
              "host": cfg["HOST"] or None, "port": cfg["PORT"] or None}
    return {k: v for k, v in params.items() if v not in (None, "")}


def existing_data(url: str, filings: int) -> bool:
    """True when the database exists and already holds exactly the catalog this run asks for."""
    import psycopg

    try:
        with psycopg.connect(**_pg_params(url), connect_timeout=5) as conn:
            approved = conn.execute("SELECT count(*) FROM algorithms_algorithmfiling WHERE state = 'approved'").fetchone()
            total = conn.execute("SELECT count(*) FROM algorithms_algorithmfiling").fetchone()
            docs = conn.execute("SELECT count(*) FROM core_search_document WHERE doc_type = 'filing'").fetchone()
    except psycopg.Error:
        return False
    return approved[0] == total[0] == docs[0] == filings


def recreate_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    params = _pg_params(url)
    name = params.pop("dbname")
    if name in ("postgres", "template0", "template1"):
        raise SystemExit(f"refusing to drop the {name!r} database; give the benchmark its own database")
    with psycopg.connect(**params, dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(sql.Identifier(name)))


def migrate(env: dict[str, str]) -> None:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "gaodi.cli", "migrate", "--noinput", "-v", "0"],
                            env=env, cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"gaodi migrate failed:\n{result.stdout}\n{result.stderr}")
    log(f"migrated in {time.perf_counter() - started:.1f}s")


def setup_django(env: dict[str, str]) -> None:
    for key in ("DATABASE_URL", "GAODI_VAR_DIR"):
        os.environ[key] = env[key]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gaodi.config.settings")
    import django

    django.setup()


def load_catalog(filings: int, seed: int) -> Catalog:
    """Organizations, a user and `filings` approved filings with their search rows, in bulk."""
    from django.db import connection, transaction
    from django.utils import timezone, translation

    from gaodi.apps.algorithms import actions
    from gaodi.apps.algorithms.models import AlgorithmFiling, FilingRole, FilingSerial, Kind, State
    from gaodi.apps.core.choices import DepartmentDuty, Industry, OrgKind
    from gaodi.apps.core.models import Organization, User
    from gaodi.engines.text import search_text

    rng = random.Random(seed)
    catalog = Catalog(filings=filings)
    started = time.perf_counter()
    translation.activate("zh-hans")  # approve_filing indexes category labels in the active language

    # Organizations: ~1000 enterprises (one per 100 filings, at least 20), 2 departments.
    n_orgs = max(20, min(1000, filings // 100)) if filings >= 2000 else max(1, min(20, filings))
    brands = [(a + b, a_en + b_en) for a, a_en in BRAND_1 for b, b_en in BRAND_2 if a != b]
    names = [(f"上海{brand}{ind}有限公司", f"Shanghai {brand_en} {ind_en} Co., Ltd.", brand)
             for brand, brand_en in brands for ind, ind_en in INDUSTRY_WORDS]
    rng.shuffle(names)
    districts, weights = zip(*DISTRICT_WEIGHTS.items(), strict=True)
    industries = [Industry.SOFTWARE_IT, Industry.SOFTWARE_IT, Industry.INFORMATION_TRANSMISSION, Industry.OTHER]
    orgs = []
    for i, (name, name_en, _brand) in enumerate(names[:n_orgs], start=1):
        org = Organization(
            name=name, name_en=name_en, kind=OrgKind.ENTERPRISE, code=f"E{i:04d}",
            district=rng.choices(districts, weights)[0], industry=rng.choice(industries),
            employees=rng.choice([8, 15, 40, 80, 150, 300, 800, 2500]),
            annual_revenue=rng.choice([50, 300, 800, 2000, 8000, 30000, 150000]),
        )
        org.size_class = org.compute_size_class()  # save() does this; bulk_create does not call save()
        orgs.append(org)
    brand_of = {org.name: brand for org, (_n, _e, brand) in zip(orgs, names, strict=False)}
    departments = [
        Organization(name="上海市经济和信息化委员会", name_en="Shanghai Municipal Commission of Economy and Informatization",
                     kind=OrgKind.DEPARTMENT, code="D0001", duty=DepartmentDuty.ECONOMY),
        Organization(name="中共上海市委网络安全和信息化委员会办公室", name_en="Cyberspace Administration of Shanghai",
                     kind=OrgKind.DEPARTMENT, code="D0002", duty=DepartmentDuty.CYBERSPACE),
    ]
    with transaction.atomic():
        Organization.objects.bulk_create(orgs + departments, batch_size=1000)
        user = User.objects.create_user("bench", email="bench@example.invalid", password=None,
                                        display_name="基准测试用户")
    catalog.organizations = len(orgs)
    primary_domain = {org.pk: rng.randrange(len(DOMAINS)) for org in orgs}

    # Filings, approved over the last three years; serials are issued in approval order per region-year.
    now = timezone.now().replace(microsecond=0)
    span = 3 * 365 * 86400
    cats, cat_weights = zip(*CATEGORY_WEIGHTS.items(), strict=True)
    rows = []
    for _ in range(filings):
        org = rng.choice(orgs)
        category = rng.choices(cats, cat_weights)[0]
        texts = TEXTS[category]
        domain, item, app = DOMAINS[primary_domain[org.pk] if rng.random() < 0.7 else rng.randrange(len(DOMAINS))]
        fmt = {"domain": domain, "item": item, "app": app}
        approved_at = now - timedelta(seconds=rng.randrange(span))
        brand = brand_of[org.name]
        rows.append(AlgorithmFiling(
            organization=org, department=departments[0] if rng.random() < 0.6 else departments[1],
            kind=Kind.NEW, version=1, state=State.APPROVED,
            name=f"{brand}{app}{rng.choice(texts['nouns'])}算法{rng.choice(NAME_SUFFIXES)}",
            category=category, role=FilingRole.PROVIDER if rng.random() < 0.85 else FilingRole.SUPPORTER,
            scenarios=rng.choice(texts["scenarios"]).format(**fmt), domain=domain,
            principle=rng.choice(texts["principle"]).format(**fmt),
            mechanism=rng.choice(texts["mechanism"]).format(**fmt),
            purpose=rng.choice(texts["purpose"]).format(**fmt),
            products=f"{brand}{app}App {rng.choice(PLACES)}；开放接口 /api/v{rng.randint(1, 3)}/{rng.choice(texts['slug'])}",
            public_text=rng.choice(texts["public_text"]).format(**fmt),
            district=org.district, created_by=user,
            submitted_at=approved_at - timedelta(days=rng.randint(3, 40), seconds=rng.randrange(86400)),
            approved_at=approved_at,
        ))
    rows.sort(key=lambda f: f.approved_at)
    serials: dict[tuple[str, int], int] = {}
    for f in rows:
        year = timezone.localtime(f.approved_at).year
        key = (f.district, year)
        serials[key] = serials.get(key, 0) + 1
        f.filing_number = f"{f.district}-{f.organization.code}-{year}-{serials[key]:04d}"
    with transaction.atomic():
        for start in range(0, len(rows), 5000):
            AlgorithmFiling.objects.bulk_create(rows[start:start + 5000])
        FilingSerial.objects.bulk_create(
            [FilingSerial(region=r, year=y, last=n) for (r, y), n in serials.items()])
    catalog.load_seconds = time.perf_counter() - started
    log(f"inserted {len(orgs)} enterprises, 2 departments and {len(rows)} filings "
        f"in {catalog.load_seconds:.1f}s")

    # Search rows. The body is search_text(filing_search_body(f)); the body is the filing's fields
    # joined by spaces and search_text splits on spaces before segmenting, so it is computed per field
    # with a cache (the texts repeat) and checked against the direct computation on a sample.
    started = time.perf_counter()
    cache: dict[str, str] = {}

    def tokens(part: str) -> str:
        value = cache.get(part)
        if value is None:
            value = cache[part] = search_text(part)
        return value

    from django.utils import translation

    from gaodi.apps.algorithms.models import Category

    labels: dict[str, list[str]] = {}
    for value in Category.values:
        labels[value] = []
        for language in ("zh-hans", "en"):
            with translation.override(language):
                labels[value].append(str(Category(value).label))

    def body(f: AlgorithmFiling) -> str:
        # Mirrors actions.filing_search_body (checked on a sample below).
        parts = [f.name, f.filing_number, f.organization.name, f.organization.name_en,
                 *labels[f.category], f.category, f.domain, f.scenarios, f.purpose, f.products, f.public_text]
        return " ".join(t for t in (tokens(str(p)) for p in parts) if t)

    bodies = [body(f) for f in rows]
    sample = rng.sample(range(len(rows)), min(500, len(rows)))
    mismatched = [i for i in sample if search_text(actions.filing_search_body(rows[i])) != bodies[i]]
    if mismatched:
        log(f"per-field tokens differ from filing_search_body on {len(mismatched)}/{len(sample)} samples; "
            "computing every body directly (slow)")
        bodies = [search_text(actions.filing_search_body(f)) for f in rows]
    catalog.distinct_texts = len(cache)
    with transaction.atomic(), connection.cursor() as cur:
        # The index keeps only strip(to_tsvector(tokens)), as gaodi.apps.core.search.index writes it.
        cur.execute("CREATE TEMP TABLE bench_bodies (doc_type text, object_id bigint, body text) ON COMMIT DROP")
        with cur.cursor.copy("COPY bench_bodies (doc_type, object_id, body) FROM STDIN") as copy:
            for f, text in zip(rows, bodies, strict=True):
                copy.write_row((actions.SEARCH_DOC, f.pk, text))
        cur.execute("INSERT INTO core_search_document (doc_type, object_id, tsv) "
                    "SELECT doc_type, object_id, strip(to_tsvector('simple', body)) FROM bench_bodies")
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    catalog.index_seconds = time.perf_counter() - started
    log(f"indexed {len(rows)} search documents ({len(cache)} distinct field texts tokenised, "
        f"{len(sample) - len(mismatched)}/{len(sample)} sampled bodies identical to filing_search_body) "
        f"and ran VACUUM ANALYZE in {catalog.index_seconds:.1f}s")
    return catalog


# ---- SQL of each scenario ----------------------------------------------------------------------

def explain_scenarios(names: set[str], show_plans: bool, repeat: int = 3) -> list[dict]:
    """Render each page in-process, capture its SQL, and time each statement with EXPLAIN ANALYZE
    (best of `repeat` runs, so the figure is the warm cost of the statement on an idle server)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    out = []
    for name, path, _what in SCENARIOS:
        if name == "bare" or name not in names:
            continue
        client.get(path)  # warm caches
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        if response.status_code != 200:
            log(f"{path}: in-process render answered {response.status_code}; its SQL is not timed")
            continue
        statements = []
        for query in captured.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            runs = []
            for _ in range(repeat):
                with connection.cursor() as cur:
                    cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                    plan = "\n".join(row[0] for row in cur.fetchall())
                runs.append((float(re.search(r"Execution Time: ([\d.]+) ms", plan).group(1)), plan))
            ms, plan = min(runs)
            statements.append({"sql": sql, "execution_ms": ms, "plan": plan})
            if show_plans:
                print(f"\n---- {name}: {path}\n{sql}\n{plan}", file=sys.stderr)
        out.append({"scenario": name, "path": path, "statements": statements})
    return out


def database_facts() -> dict:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT current_setting('server_version'), current_setting('shared_buffers'), "
                    "current_setting('work_mem')")
        version, shared_buffers, work_mem = cur.fetchone()
    return {"postgresql": f"PostgreSQL {version}", "shared_buffers": shared_buffers, "work_mem": work_mem}


# ---- server ------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str], port: int, workers: int, threads: int, log_path: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "gunicorn", "gaodi.config.wsgi:application", "--bind", f"127.0.0.1:{port}",
           "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
           "--keep-alive", "10", "--timeout", "120", "--log-level", "warning", "--error-logfile", "-"]
    log_file = open(log_path, "w")  # closed by stop_server
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=log_file, stderr=subprocess.STDOUT)
    proc.log_file = log_file  # type: ignore[attr-defined]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/bench/bare/")
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return proc
            raise RuntimeError(f"/bench/bare/ answered {status} at start-up:\n{log_path.read_text()[-4000:]}")
        except (ConnectionError, OSError):
            time.sleep(0.25)
    raise RuntimeError(f"gunicorn did not answer within 90s:\n{log_path.read_text()[-4000:]}")


def stop_server(proc: subprocess.Popen | None) -> None:
    if proc is None:
        return
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    log_file = getattr(proc, "log_file", None)
    if log_file:
        log_file.close()


# ---- load --------------------------------------------------------------------------------------

@dataclass
class Result:
    scenario: str
    path: str
    requests: int
    errors: int
    matches: int | None
    p50_ms: float
    p95_ms: float
    mean_ms: float
    max_ms: float
    throughput: float
    seconds: float
    reconnects: int
    client_cpu_share: float
    capped: bool
    error_samples: list[str] = field(default_factory=list)
    ratio_p50: float = 1.0
    ratio_p95: float = 1.0
    ratio_throughput: float = 1.0


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def quoted(path: str) -> str:
    """Percent-encode non-ASCII in the query string (http.client sends the path as given)."""
    parts = urlsplit(path)
    return urlunsplit(("", "", parts.path, quote(parts.query, safe="=&%+"), ""))


def drive(port: int, path: str, clients: int, requests: int, max_seconds: float) -> dict:
    """`clients` threads on keep-alive connections share `requests` GETs of `path`, within `max_seconds`."""
    target = quoted(path)
    lock = threading.Lock()
    issued = 0
    latencies: list[float] = []
    errors: list[str] = []
    reconnects = 0
    bodies: list[bytes] = []
    ready = threading.Barrier(clients + 1)
    deadline = 0.0

    def worker() -> None:
        nonlocal issued, reconnects
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        ready.wait()
        fresh = True
        while True:
            with lock:
                if issued >= requests or time.perf_counter() > deadline:
                    break
                issued += 1
            for attempt in (1, 2):
                t0 = time.perf_counter()
                try:
                    conn.request("GET", target, headers={"Accept-Language": "zh-hans"})
                    resp = conn.getresponse()
                    body = resp.read()
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                    # The server may close an idle keep-alive connection: reconnect once, don't count it.
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    if attempt == 1 and not fresh:
                        with lock:
                            reconnects += 1
                        continue
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
                    break
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
                    break
                fresh = False
                mine.append(time.perf_counter() - t0)
                if resp.status != 200:
                    with lock:
                        errors.append(f"HTTP {resp.status}")
                elif not bodies:
                    with lock:
                        bodies.append(body)
                break
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    cpu0 = time.process_time()
    deadline = time.perf_counter() + max_seconds
    start = time.perf_counter()
    ready.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    return {"latencies": sorted(latencies), "errors": errors, "elapsed": elapsed, "reconnects": reconnects,
            "body": bodies[0] if bodies else b"", "client_cpu": cpu, "issued": issued}


def run_scenario(port: int, name: str, path: str, args: argparse.Namespace) -> Result:
    drive(port, path, args.clients, args.clients * args.warmup, args.max_seconds)  # warm-up, not recorded
    count = args.bare_requests if name == "bare" else args.requests
    raw = drive(port, path, args.clients, count, args.max_seconds)
    lat = raw["latencies"]
    text = raw["body"].decode("utf-8", "replace")
    found = COUNT_RE.search(text)
    matches = int(found.group(1).replace(",", "")) if found else None
    ok = raw["issued"] - len(raw["errors"])
    result = Result(
        scenario=name, path=path, requests=raw["issued"], errors=len(raw["errors"]),
        matches=matches, p50_ms=percentile(lat, 50) * 1000, p95_ms=percentile(lat, 95) * 1000,
        mean_ms=(sum(lat) / len(lat) * 1000) if lat else math.nan, max_ms=(lat[-1] * 1000) if lat else math.nan,
        throughput=ok / raw["elapsed"] if raw["elapsed"] else math.nan, seconds=raw["elapsed"],
        reconnects=raw["reconnects"], client_cpu_share=raw["client_cpu"] / raw["elapsed"] if raw["elapsed"] else 0,
        capped=raw["issued"] < count, error_samples=sorted(set(raw["errors"]))[:5],
    )
    log(f"{name:14s} {result.requests:6d} req  p50 {result.p50_ms:7.1f} ms  p95 {result.p95_ms:7.1f} ms  "
        f"{result.throughput:7.1f} req/s  matches {matches}  errors {result.errors}"
        + ("  (time cap reached)" if result.capped else ""))
    return result


# ---- report ------------------------------------------------------------------------------------

def table(results: list[Result]) -> str:
    head = (f"{'scenario':<14} {'path':<52} {'requests':>8} {'matches':>8} {'p50 ms':>8} {'p95 ms':>8} "
            f"{'req/s':>8} {'p50/bare':>9} {'p95/bare':>9} {'tput/bare':>9} {'client CPU':>10}")
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.scenario:<14} {r.path:<52} {str(r.requests) + ('*' if r.capped else ''):>8} {r.matches if r.matches is not None else '-':>8} "
            f"{r.p50_ms:>8.1f} {r.p95_ms:>8.1f} {r.throughput:>8.1f} {r.ratio_p50:>9.2f} {r.ratio_p95:>9.2f} "
            f"{r.ratio_throughput:>9.3f} {r.client_cpu_share:>10.0%}")
    return "\n".join(lines)


def sql_summary(explained: list[dict]) -> str:
    lines = ["SQL per page (EXPLAIN ANALYZE execution time, best of 3, idle server):"]
    for entry in explained:
        total = sum(s["execution_ms"] for s in entry["statements"])
        lines.append(f"  {entry['scenario']:<14} {len(entry['statements'])} statements, {total:.1f} ms")
        for s in entry["statements"]:
            sql = re.sub(r"\s+", " ", s["sql"])
            lines.append(f"      {s['execution_ms']:8.1f} ms  {sql[:150]}{'…' if len(sql) > 150 else ''}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--filings", type=int, default=100_000, help="approved filings to load (default 100000)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent keep-alive clients (default 16)")
    parser.add_argument("--requests", type=int, default=1000, help="measured requests per scenario (default 1000)")
    parser.add_argument("--bare-requests", type=int, default=5000,
                        help="measured requests of the bare baseline, which is ~10x faster (default 5000)")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="time cap per scenario in seconds (default 120)")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up requests per client and scenario (default 5)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (default 4)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default 4)")
    parser.add_argument("--database-url", default=DEFAULT_URL, help=f"PostgreSQL URL (default {DEFAULT_URL})")
    parser.add_argument("--keep", action="store_true", help="reuse the database if it already holds the data")
    parser.add_argument("--only", nargs="*", help="run only these scenarios (the bare baseline always runs)")
    parser.add_argument("--explain", action="store_true", help="print the EXPLAIN ANALYZE plan of every statement")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="gaodi-bench-") as tmp:
        env = {**os.environ, "DATABASE_URL": args.database_url, "GAODI_VAR_DIR": tmp,
               "DJANGO_SETTINGS_MODULE": "gaodi.config.settings"}
        env.pop("GAODI_URLCONF", None)
        reused = args.keep and existing_data(args.database_url, args.filings)
        if reused:
            log(f"--keep: reusing {args.database_url} with {args.filings} filings")
        else:
            log(f"creating {args.database_url}")
            recreate_database(args.database_url)
        migrate(env)
        setup_django(env)
        catalog = Catalog(filings=args.filings) if reused else load_catalog(args.filings, SEED)
        from django.db import connections

        connections.close_all()

        server_env = {
            **env, "GAODI_URLCONF": "bench.baseline_urls", "GAODI_ENV": "development", "GAODI_DEBUG": "0",
            "GAODI_ALLOWED_HOSTS": "127.0.0.1", "GAODI_DB_CONN_MAX_AGE": "60", "GAODI_LOG_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join(p for p in [str(REPO), env.get("PYTHONPATH", "")] if p),
        }
        port = free_port()
        proc = None
        results: list[Result] = []
        try:
            proc = start_server(server_env, port, args.workers, args.threads, Path(tmp) / "gunicorn.log")
            log(f"gunicorn on 127.0.0.1:{port}, {args.workers} workers x {args.threads} threads; "
                f"{args.clients} clients, {args.requests} requests per scenario")
            for name, path, _what in SCENARIOS:
                if args.only and name != "bare" and name not in args.only:
                    continue
                results.append(run_scenario(port, name, path, args))
            server_log = (Path(tmp) / "gunicorn.log").read_text()
        finally:
            stop_server(proc)
        failed = [r for r in results if r.errors]
        explained = []
        if not failed:
            log("timing each page's SQL with EXPLAIN ANALYZE")
            explained = explain_scenarios({r.scenario for r in results}, args.explain)
        database = database_facts()

    bare = results[0]
    for r in results:
        r.ratio_p50 = r.p50_ms / bare.p50_ms
        r.ratio_p95 = r.p95_ms / bare.p95_ms
        r.ratio_throughput = r.throughput / bare.throughput
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "filings": args.filings,
        "organizations": catalog.organizations or None, "clients": args.clients, "requests": args.requests,
        "bare_requests": args.bare_requests, "workers": args.workers, "threads": args.threads,
        "cpus": os.cpu_count(), "python": platform.python_version(), **database,
        "load_seconds": round(catalog.load_seconds, 1), "index_seconds": round(catalog.index_seconds, 1),
        "reused_database": reused,
    }
    if args.json:
        print(json.dumps({"meta": meta, "results": [asdict(r) for r in results],
                          "sql": [{"scenario": e["scenario"], "statements": [
                              {k: s[k] for k in ("sql", "execution_ms", "plan")} for s in e["statements"]]}
                              for e in explained]}, ensure_ascii=False, indent=2))
    else:
        print(f"\nWeb catalog: {args.filings} filings, {args.clients} clients, gunicorn {args.workers}x{args.threads} "
              f"gthread, {os.cpu_count()} CPUs shared by client, server and database; {database['postgresql']}, "
              f"shared_buffers {database['shared_buffers']}\n")
        print(table(results))
        print("(client CPU: the load generator's own CPU time over the scenario's wall time, of the same cores;"
              " * = stopped by --max-seconds before all requests were sent)")
        if explained:
            print()
            print(sql_summary(explained))
    if failed:
        for r in failed:
            print(f"FAILED {r.scenario} {r.path}: {r.errors} of {r.requests} requests failed, e.g. {r.error_samples}",
                  file=sys.stderr)
        print(f"server log tail:\n{server_log[-3000:]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
