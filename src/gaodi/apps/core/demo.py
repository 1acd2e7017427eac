"""Demo data for `gaodi demo`: a small, realistic Shanghai AI industry, made deterministically from a seed.

About 100 enterprises in all 16 districts, the city departments of Art. 6, the district governments,
testing institutions, an industry association and an ethics committee; reviewers and publishers in two
departments; about 60 algorithm filings in every workflow state, each with a real (small) PDF
self-assessment report; and two published disclosure batches.

Every filing is made through `gaodi.apps.algorithms.actions`, exactly as the web pages, the API and
the CLI make them, so workflow history, filing numbers, the search index, notifications and the audit
chain are the real thing. Organizations and users are created directly (no action exists for them).

Every demo account shares one published password (DEMO_PASSWORD). That is acceptable only because this
is demo data: `gaodi demo` refuses to run with GAODI_ENV=production.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from gaodi.apps.algorithms import actions
from gaodi.apps.algorithms.forms import FilingForm
from gaodi.apps.algorithms.models import AlgorithmFiling, DisclosureBatch, DisclosureItem
from gaodi.engines import sme, workdays
from gaodi.engines.identifiers import USCC_ALPHABET, make_uscc

from . import audit
from .choices import DepartmentDuty, District, OrgKind, Role
from .models import AuditEntry, Membership, Organization, User

DEMO_PASSWORD = "gaodi-demo-2026"  # noqa: S105 - demo data only, printed by `gaodi demo`
ENTERPRISE_COUNT = 100
FILER_COUNT = 40  # enterprises that get user accounts and file algorithms
APPROVAL_WINDOW_DAYS = 540  # approvals are spread over the past ~18 months


@dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    organization_code: str | None


# One login per role, printed by `gaodi demo`. All use DEMO_PASSWORD.
DEMO_LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin("企业成员 Enterprise member", "e0001.member", "E0001"),
    DemoLogin("企业管理员 Enterprise admin", "e0001.admin", "E0001"),
    DemoLogin("审核员（市网信办） Reviewer, cyberspace", "cyber-reviewer", "D04"),
    DemoLogin("审核员（市经信委） Reviewer, economy", "econ-reviewer", "D01"),
    DemoLogin("发布员（市网信办） Publisher, cyberspace", "cyber-publisher", "D04"),
    DemoLogin("平台管理员 Platform admin (superuser)", "admin", None),
    DemoLogin("检测机构成员 Testing-institution member", "t01.member", "T01"),
    DemoLogin("算力提供方成员 Compute provider member", "p01.member", "P01"),
)

# ---- organizations ------------------------------------------------------------------------------

DEPARTMENTS: dict[str, tuple[str, str]] = {
    DepartmentDuty.ECONOMY: ("上海市经济和信息化委员会", "Shanghai Municipal Commission of Economy and Informatization"),
    DepartmentDuty.DEVELOPMENT: ("上海市发展和改革委员会", "Shanghai Municipal Development and Reform Commission"),
    DepartmentDuty.SCIENCE: ("上海市科学技术委员会", "Science and Technology Commission of Shanghai Municipality"),
    DepartmentDuty.CYBERSPACE: ("上海市互联网信息办公室", "Cyberspace Administration of Shanghai"),
    DepartmentDuty.MARKET: ("上海市市场监督管理局", "Shanghai Administration for Market Regulation"),
    DepartmentDuty.STATISTICS: ("上海市统计局", "Shanghai Municipal Bureau of Statistics"),
}

DISTRICT_EN = {
    District.HUANGPU: "Huangpu", District.XUHUI: "Xuhui", District.CHANGNING: "Changning",
    District.JINGAN: "Jing'an", District.PUTUO: "Putuo", District.HONGKOU: "Hongkou", District.YANGPU: "Yangpu",
    District.MINHANG: "Minhang", District.BAOSHAN: "Baoshan", District.JIADING: "Jiading",
    District.PUDONG: "Pudong New Area", District.JINSHAN: "Jinshan", District.SONGJIANG: "Songjiang",
    District.QINGPU: "Qingpu", District.FENGXIAN: "Fengxian", District.CHONGMING: "Chongming",
}
# Relative weight of each district as a home of AI enterprises (Zhangjiang, Xuhui's waterfront, Caohejing...).
DISTRICT_WEIGHTS = {
    District.PUDONG: 18, District.XUHUI: 12, District.MINHANG: 9, District.YANGPU: 8, District.CHANGNING: 6,
    District.JINGAN: 6, District.JIADING: 5, District.SONGJIANG: 5, District.PUTUO: 4, District.HUANGPU: 4,
    District.BAOSHAN: 3, District.HONGKOU: 3, District.QINGPU: 3, District.FENGXIAN: 2, District.JINSHAN: 1,
    District.CHONGMING: 1,
}

# Brand names are two characters, one from each list; the pinyin makes the English name.
_BRAND_FIRST = {
    "云": "Yun", "星": "Xing", "海": "Hai", "智": "Zhi", "灵": "Ling", "启": "Qi", "明": "Ming", "天": "Tian",
    "深": "Shen", "青": "Qing", "蓝": "Lan", "景": "Jing", "睿": "Rui", "博": "Bo", "弘": "Hong", "元": "Yuan",
    "合": "He", "泽": "Ze", "恒": "Heng", "澄": "Cheng", "翼": "Yi", "远": "Yuan", "瀚": "Han", "朗": "Lang",
}
_BRAND_SECOND = {
    "帆": "fan", "河": "he", "纳": "na", "渊": "yuan", "犀": "xi", "辰": "chen", "舟": "zhou", "禾": "he",
    "图": "tu", "澜": "lan", "曜": "yao", "衡": "heng", "川": "chuan", "岳": "yue", "鸣": "ming", "翎": "ling",
    "岫": "xiu", "柏": "bai", "骁": "xiao", "桥": "qiao", "峰": "feng", "穹": "qiong", "弈": "yi", "湃": "pai",
}
_TECH_WORDS = (
    ("智能", "Intelligent"), ("数据", "Data"), ("视觉", "Vision"), ("语音", "Speech"), ("机器人", "Robotics"),
    ("算法", "Algorithm"), ("感知", "Perception"), ("认知", "Cognitive"), ("数智", "Digital Intelligence"),
    ("网络", "Network"), ("信息", "Information"), ("智联", "Smart Connect"), ("云", "Cloud"),
)
_SUFFIXES = (
    ("科技有限公司", "Technology Co., Ltd."), ("智能科技有限公司", "Intelligent Technology Co., Ltd."),
    ("信息技术有限公司", "Information Technology Co., Ltd."), ("网络科技有限公司", "Network Technology Co., Ltd."),
    ("数据科技有限公司", "Data Technology Co., Ltd."),
)
# industry -> weight among AI enterprises (most are software and IT services).
_INDUSTRY_WEIGHTS = {
    "software_it": 55, "information_transmission": 8, "industry": 12, "retail": 7, "transport": 5,
    "leasing_business": 5, "other": 8,
}
# target size -> weight: most enterprises are SMEs (Art. 12 gives them affordable compute first).
_SIZE_WEIGHTS = {"micro": 24, "small": 38, "medium": 24, "large": 14}

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾田董潘袁蔡蒋余杜叶程魏苏吕丁沈姚陆顾钱严戴金"
_GIVEN = "思远子涵雨欣浩然梓萱俊杰晓峰佳怡文博静怡宇轩一鸣嘉懿明哲若彤志强丽华建国海燕晨曦"


@dataclass(frozen=True)
class EnterpriseSpec:
    code: str
    name: str
    name_en: str
    brand: str
    district: str
    industry: str
    employees: int
    annual_revenue: Decimal
    total_assets: Decimal
    founded_on: date
    credit_code: str


def _person_name(rng: random.Random) -> tuple[str, str]:
    surname = rng.choice(_SURNAMES)
    given = "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return surname, given


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, 2)))


def _size_facts(rng: random.Random, industry: str, size: str) -> tuple[int, float]:
    """Employees and the money fact (revenue, or assets for leasing) aimed at a size class."""
    rule = sme.RULES[industry]
    e_outer = rule.sme_employees or 2000
    m_outer = float(rule.sme_money or 60000)
    e_medium, m_medium = max(rule.medium[0], 50), float(max(rule.medium[1], 800))
    e_small, m_small = max(rule.small[0], 10), float(max(rule.small[1], 60))
    if size == "large":
        return rng.randint(e_outer, e_outer * 5), rng.uniform(m_outer * 1.05, m_outer * 8)
    if size == "medium":
        return rng.randint(e_medium, e_outer - 1), rng.uniform(m_medium, m_outer * 0.9)
    if size == "small":
        return rng.randint(e_small, max(e_small, e_medium - 1)), rng.uniform(m_small, max(m_small, m_medium * 0.95))
    return rng.randint(3, max(3, e_small - 1)), rng.uniform(8, max(9.0, m_small * 0.9))


def _uscc(rng: random.Random, district: str, used: set[str]) -> str:
    while True:
        if rng.random() < 0.7:  # registered since 2015: the organisation code part starts with MA
            body = "MA" + "".join(rng.choice(USCC_ALPHABET[:10] + "ABCDEFGHJKLMNPQRTUWXY") for _ in range(6))
        else:
            body = "".join(rng.choice("0123456789") for _ in range(8))
        code = make_uscc("9", "1", district, body)
        if code not in used:
            used.add(code)
            return code


def plan_enterprises(rng: random.Random, count: int = ENTERPRISE_COUNT) -> list[EnterpriseSpec]:
    """Enterprise facts, deterministic for a given rng state. Every district has at least one."""
    districts = list(District.values)
    rng.shuffle(districts)
    weighted = list(DISTRICT_WEIGHTS)
    weights = [DISTRICT_WEIGHTS[d] for d in weighted]
    districts += rng.choices(weighted, weights, k=max(0, count - len(districts)))
    brands = [a + b for a in _BRAND_FIRST for b in _BRAND_SECOND if a != b]
    rng.shuffle(brands)
    industries = list(_INDUSTRY_WEIGHTS)
    sizes = list(_SIZE_WEIGHTS)
    names: set[str] = set()
    codes: set[str] = set()
    specs = []
    for i in range(count):
        brand = brands[i]
        while True:
            tech, tech_en = rng.choice(_TECH_WORDS)
            suffix, suffix_en = rng.choice(_SUFFIXES)
            if not set(tech) & set(suffix[:2]):  # no 智能智能, 数智数据, 网络网络
                break
        name = f"上海{brand}{tech}{suffix}"
        if name in names:  # cannot happen with unique brands, but names are unique in the database
            raise RuntimeError(f"duplicate demo enterprise name {name}")
        names.add(name)
        pinyin = _BRAND_FIRST[brand[0]] + _BRAND_SECOND[brand[1]]
        industry = rng.choices(industries, [_INDUSTRY_WEIGHTS[k] for k in industries])[0]
        size = rng.choices(sizes, [_SIZE_WEIGHTS[k] for k in sizes])[0]
        employees, money = _size_facts(rng, industry, size)
        if sme.RULES[industry].measure == "assets":
            assets, revenue = money, money * rng.uniform(0.2, 0.9)
        else:
            revenue, assets = money, money * rng.uniform(0.5, 2.5)
        district = districts[i]
        specs.append(EnterpriseSpec(
            code=f"E{i + 1:04d}", name=name, name_en=f"Shanghai {pinyin} {tech_en} {suffix_en}", brand=brand,
            district=district, industry=industry, employees=employees, annual_revenue=_money(revenue),
            total_assets=_money(assets), founded_on=date(2008, 1, 1) + timedelta(days=rng.randint(0, 5600)),
            credit_code=_uscc(rng, district, codes),
        ))
    return specs


def _create_orgs(rng: random.Random, specs: list[EnterpriseSpec]) -> dict[str, Organization]:
    orgs: dict[str, Organization] = {}
    used: set[str] = set()

    def add(code: str, **fields: Any) -> Organization:
        org = Organization(code=code, **fields)
        org.full_clean()
        org.save()
        orgs[code] = org
        return org

    for i, duty in enumerate(DepartmentDuty.values, start=1):
        name, name_en = DEPARTMENTS[duty]
        add(f"D{i:02d}", name=name, name_en=name_en, kind=OrgKind.DEPARTMENT, duty=duty,
            credit_code=make_uscc("1", "1", "310000", f"{rng.randint(0, 99999999):08d}"))
    for district in District:
        add(f"Q{district.value}", name=f"上海市{district.label}人民政府",
            name_en=f"{DISTRICT_EN[district]} District People's Government, Shanghai".replace(
                "New Area District", "New Area"),
            kind=OrgKind.DISTRICT, district=district.value,
            credit_code=make_uscc("1", "1", district.value, f"{rng.randint(0, 99999999):08d}"))
    add("T01", name="上海浦江人工智能检测评估有限公司", name_en="Shanghai Pujiang AI Testing and Evaluation Co., Ltd.",
        kind=OrgKind.TESTING_INSTITUTION, district=District.XUHUI, credit_code=_uscc(rng, District.XUHUI, used))
    add("T02", name="上海长三角智能系统测评研究院", name_en="Yangtze River Delta Institute of Intelligent System Evaluation",
        kind=OrgKind.TESTING_INSTITUTION, district=District.PUDONG,
        credit_code=make_uscc("5", "2", District.PUDONG, f"{rng.randint(0, 99999999):08d}"))
    add("A01", name="上海市人工智能行业协会", name_en="Shanghai Artificial Intelligence Industry Association",
        kind=OrgKind.ASSOCIATION, district=District.XUHUI,
        credit_code=make_uscc("5", "1", "310000", f"{rng.randint(0, 99999999):08d}"))
    add("C01", name="上海市人工智能伦理专家委员会", name_en="Shanghai AI Ethics Expert Committee",
        kind=OrgKind.COMMITTEE)
    for spec in specs:
        add(spec.code, name=spec.name, name_en=spec.name_en, kind=OrgKind.ENTERPRISE, district=spec.district,
            industry=spec.industry, employees=spec.employees, annual_revenue=spec.annual_revenue,
            total_assets=spec.total_assets, founded_on=spec.founded_on, credit_code=spec.credit_code)
    return orgs


def _create_users(rng: random.Random, orgs: dict[str, Organization], filers: list[str]) -> dict[str, User]:
    # Argon2 with Django's parameters costs ~0.1 s and 100 MB per hash; one hash shared by every demo
    # account keeps loading fast. Demo data only: all accounts have the same published password anyway.
    password = make_password(DEMO_PASSWORD)
    users: dict[str, User] = {}
    memberships: list[Membership] = []

    def add(username: str, org_code: str | None, *roles: str, **extra: Any) -> User:
        surname, given = _person_name(rng)
        user = User(username=username, password=password, first_name=given, last_name=surname,
                    display_name=extra.pop("display_name", surname + given),
                    email=f"{username}@demo.gaodi.invalid", **extra)
        user.save()
        users[username] = user
        if org_code:
            memberships.extend(Membership(user=user, organization=orgs[org_code], role=r) for r in roles)
        return user

    add("admin", None, is_superuser=True, is_staff=True, display_name="平台管理员")
    add("cyber-reviewer", "D04", Role.REVIEWER)
    add("cyber-reviewer-2", "D04", Role.REVIEWER)
    add("cyber-publisher", "D04", Role.PUBLISHER)
    add("econ-reviewer", "D01", Role.REVIEWER)
    add("econ-publisher", "D01", Role.PUBLISHER)
    add("t01.member", "T01", Role.MEMBER)
    add("t02.member", "T02", Role.MEMBER)
    add("a01.member", "A01", Role.MEMBER)
    add("c01.member", "C01", Role.MEMBER)
    for code in filers:
        add(f"{code.lower()}.member", code, Role.MEMBER)
        add(f"{code.lower()}.admin", code, Role.ADMIN, Role.MEMBER)
    Membership.objects.bulk_create(memberships)
    return users


# ---- filings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FilingTemplate:
    category: str
    industries: tuple[str, ...]  # industries of the enterprises that plausibly run it
    name: str
    scenarios: str
    domain: str
    principle: str
    mechanism: str
    purpose: str
    products: str
    public_text: str
    role: str = "provider"

    def fill(self, brand: str) -> dict[str, str]:
        return {f: getattr(self, f).replace("{brand}", brand) for f in
                ("category", "name", "scenarios", "domain", "principle", "mechanism", "purpose", "products",
                 "public_text", "role")}


_ANY = ("software_it", "information_transmission", "other", "leasing_business")
TEMPLATES: tuple[FilingTemplate, ...] = (
    FilingTemplate(
        "recommendation", ("retail", "software_it", "information_transmission"),
        "{brand}优选商品个性化推荐算法",
        "{brand}优选 App 首页“猜你喜欢”、商品详情页“相似好物”和购物车页的商品推荐。",
        "电子商务",
        "以用户近90天的浏览、收藏、加购和购买行为为输入，用双塔召回模型从商品库中找出候选商品，"
        "再用多任务排序模型同时预估点击率与下单率，按综合得分排序。",
        "用户打开页面时，系统实时读取行为特征，从约800万件在售商品中召回约500件候选，经排序模型打分、去重、"
        "类目打散和新品扶持规则调整后展示前60件；模型每日离线更新，行为特征分钟级更新；运营人员不能对单个用户"
        "手工干预排序。",
        "帮助用户更快找到需要的商品，减少无效浏览，同时让中小商家的新品获得曝光机会。",
        "{brand}优选 App（iOS、Android）、{brand}优选微信小程序",
        "我们会根据您在{brand}优选的浏览、收藏和购买记录，推荐您可能需要的商品。推荐不会使用您的性别、年龄、"
        "位置等信息来区别定价。您可以在“我的—设置—隐私—个性化推荐”中随时关闭，关闭后将看到按销量和上架时间"
        "排序的通用内容。",
    ),
    FilingTemplate(
        "recommendation", ("information_transmission", "software_it"),
        "{brand}短视频信息流推荐算法",
        "{brand}视频 App“推荐”频道的短视频信息流，以及视频播放结束后的“接着看”推荐。",
        "网络视听",
        "根据用户的观看时长、点赞、评论、分享和“不感兴趣”反馈，学习用户兴趣与视频内容标签之间的匹配程度，"
        "用深度兴趣网络预估用户完整观看某条视频的可能性。",
        "每次刷新时按兴趣、关注关系、同城和热门四路召回约1000条视频，排序模型打分后，经过内容安全审核结果过滤、"
        "同一作者频次控制和防沉迷时长提醒规则，下发10条；未成年人模式下只推荐经人工审核的青少年内容池。",
        "为用户提供符合兴趣的视频内容，同时避免信息茧房和过度使用。",
        "{brand}视频 App、{brand}视频极速版",
        "“推荐”频道里的视频是根据您观看、点赞和分享的记录挑选的。我们会主动加入一定比例您平时不常看的优质内容，"
        "避免内容越看越窄。您可以长按视频选择“不感兴趣”，也可以在设置中关闭个性化推荐或开启青少年模式，"
        "连续使用超过60分钟会收到休息提醒。",
    ),
    FilingTemplate(
        "recommendation", ("leasing_business", "software_it"),
        "{brand}招聘岗位智能推荐算法",
        "{brand}直聘 App 求职者首页的岗位推荐，以及招聘方“推荐人才”列表。",
        "人力资源服务",
        "将简历中的技能、工作经历、期望城市与薪资，和岗位描述中的任职要求进行语义匹配，结合双方的投递、查看"
        "和沟通行为，预估双向满意的可能性。",
        "系统每日为每位求职者生成候选岗位，排序时只使用与工作能力相关的字段；性别、年龄、民族、婚育状况等字段"
        "不进入模型，并定期按群体抽样检测推荐结果的差异，发现显著差异时人工复核并调整模型。",
        "提高求职者与岗位的匹配效率，缩短求职时间，防止就业歧视。",
        "{brand}直聘 App、{brand}直聘网页版",
        "我们根据您简历中的技能、经历和求职意向为您推荐岗位，不会使用性别、年龄、民族、婚育等信息。您可以随时"
        "修改求职意向，或在“设置—推荐管理”中关闭个性化推荐，改为按发布时间浏览全部岗位。",
    ),
    FilingTemplate(
        "generation", _ANY,
        "{brand}绘境文生图合成算法",
        "用户在{brand}绘境网页和 App 中输入中文描述，生成插画、海报和商品主图等图片。",
        "数字内容创作",
        "基于潜空间扩散模型：文本编码器把用户的中文描述转为语义向量，扩散模型在该向量引导下从随机噪声逐步去噪，"
        "生成与描述相符的图像。",
        "输入描述先经过敏感词和违法不良信息识别，不通过则拒绝生成；生成的图片再经图像安全审核，通过后在图片右下角"
        "添加“AI生成”显式标识，并在文件元数据中写入隐式标识；用户可对生成结果投诉举报，人工在24小时内处理。",
        "降低图片创作门槛，为中小商家和个人创作者提供高效的设计工具。",
        "{brand}绘境网页版、{brand}绘境 App、开放接口 /v1/images/generations",
        "{brand}绘境会根据您输入的文字描述自动生成图片，生成的图片都带有“AI生成”标识。您输入的内容会先经过安全"
        "检查，含有违法或侵权内容的描述不会被执行。生成的图片可能与事实不符，请勿用于冒充他人或误导公众，如发现"
        "问题可通过页面上的“举报”按钮反馈。",
    ),
    FilingTemplate(
        "generation", ("software_it", "information_transmission", "other"),
        "{brand}大模型智能对话生成算法",
        "{brand}助手 App 中的问答、写作、翻译和摘要等文本对话服务。",
        "通用信息服务",
        "基于Transformer结构的大语言模型，经过大规模中文语料预训练、指令微调和基于人类反馈的强化学习，根据用户"
        "输入和上下文逐词预测生成回答。",
        "用户输入经过安全分类模型和关键词过滤；模型生成的回答在输出前再次经过内容安全审核，涉及医疗、法律、金融等"
        "专业问题时附加风险提示；对话记录仅用于提供服务，用户可一键删除；训练数据来源经合法性审查并建立台账。",
        "为公众提供便捷的知识问答和写作辅助服务，提高学习和工作效率。",
        "{brand}助手 App、{brand}助手网页版、企业版开放接口",
        "{brand}助手的回答由人工智能模型自动生成，可能出现错误或不准确的内容，重要事项请以权威信息为准。未经您在"
        "设置中主动同意，我们不会把您的对话内容用于训练。您可以随时删除对话记录，对不当回答可以点击“反馈”举报。",
    ),
    FilingTemplate(
        "generation", _ANY,
        "{brand}智能客服语音合成算法",
        "为银行、运营商等企业的电话客服和智能外呼提供语音播报，把文本实时转换为自然语音。",
        "客户服务",
        "采用端到端神经网络语音合成：声学模型把文本转换为梅尔频谱，声码器再把频谱还原为语音波形；音色来自签署"
        "授权协议的专业配音员录音。",
        "企业客户通过接口提交待播报文本，系统进行文本规范化和多音字消歧后合成语音；每通电话开头播放“您好，我是"
        "智能语音助手”的提示，合成音频嵌入不可听水印以便溯源；不提供基于用户上传声音的声音克隆功能。",
        "降低企业客服成本，让客户获得全天候的语音服务。",
        "{brand}语音开放平台 TTS 接口、{brand}智能外呼系统",
        "当您接到使用本技术的客服电话时，电话开头会明确告诉您对方是智能语音助手，而不是真人。合成的声音来自获得"
        "授权的配音员，我们不会模仿任何其他人的声音。如需人工服务，您可以随时按0转接人工客服。",
    ),
    FilingTemplate(
        "generation", _ANY,
        "{brand}数字人视频合成算法",
        "为电商直播、政务讲解和在线教育客户生成数字人播报视频，作为技术支持者通过接口向客户提供服务。",
        "数字内容创作",
        "使用经授权采集的真人视频训练人像驱动模型，根据输入文本合成语音，并由语音驱动口型和表情，生成与语音同步"
        "的数字人视频。",
        "客户须上传形象授权书并通过人脸比对核验后才能创建数字人形象；合成视频全程显示“数字人”标识；系统拒绝合成"
        "公众人物和未获授权人员的形象；所有合成请求记录日志并保存六个月备查。",
        "帮助客户低成本制作讲解视频，提升内容生产效率。",
        "{brand}数字人开放平台、{brand}数字人 SDK",
        "您看到的带有“数字人”标识的视频由人工智能合成，画面中的人物不是真人实时出镜。每个数字人形象都取得了本人"
        "的书面授权，我们不会合成未经授权的人物形象。如发现有人冒用您的形象，请通过平台举报入口联系我们。",
        role="supporter",
    ),
    FilingTemplate(
        "ranking", ("information_transmission", "software_it"),
        "{brand}新闻资讯热点排序算法",
        "{brand}新闻 App 首页“要闻”和“热点”栏目的新闻排序与精选。",
        "互联网新闻信息服务",
        "综合新闻的时效性、来源权威度、阅读完成率和用户互动数据计算热度分，并由编辑团队根据重要性进行人工复核，"
        "形成排序结果。",
        "热度分每10分钟更新一次；来自有资质新闻单位的稿件获得权威度加权；标题党、低俗内容由识别模型降权；“要闻”"
        "栏目前五条由值班编辑人工确认；热搜榜单不接受商业付费干预，并在页面标明榜单规则。",
        "让用户及时获取真实、重要的新闻信息，防止虚假信息和炒作传播。",
        "{brand}新闻 App、{brand}新闻网站",
        "“热点”栏目按新闻的发布时间、来源是否权威以及阅读和讨论的热度排序，前几条重要新闻由编辑人工确认。榜单"
        "不接受付费上榜。您可以在“设置”中选择按时间顺序浏览，也可以对不准确的内容点击“纠错”。",
    ),
    FilingTemplate(
        "ranking", ("retail", "software_it", "leasing_business"),
        "{brand}本地生活商户排序算法",
        "{brand}生活 App 中餐饮、休闲娱乐、丽人等类目的商户列表排序和“必吃榜”精选。",
        "本地生活服务",
        "根据用户与商户的距离、商户评分、真实消费评价数量和近期订单量计算综合得分排序；精选榜单按公开的评选规则"
        "由评价数据计算产生。",
        "评价经反作弊模型识别，刷单和虚假评价不计入评分；推广位在页面上标注“广告”字样并与自然排序分开；商户无法"
        "通过付费改变自然排序和榜单结果；排序因子及权重每季度复核一次。",
        "帮助消费者找到附近口碑好的商户，保障商户公平竞争。",
        "{brand}生活 App、{brand}生活小程序",
        "商户列表默认按距离、评分和真实评价综合排序，标有“广告”的是商家付费推广的位置，不影响其他商户的自然排名。"
        "您可以切换为“距离最近”或“评分最高”排序。虚假评价会被识别并剔除。",
    ),
    FilingTemplate(
        "ranking", ("other", "software_it"),
        "{brand}学堂课程精选排序算法",
        "{brand}学堂 App 课程列表、搜索结果和“本周精选”栏目的课程排序。",
        "在线教育",
        "根据课程完课率、学员评价、讲师资质和课程更新时间计算质量分，再结合学员所处的学习阶段进行排序。",
        "质量分每日更新；未取得相应资质的讲师课程不进入精选栏目；面向未成年人的课程单独排序并限制夜间推送；付费"
        "推广课程标注“推广”且每页不超过两条。",
        "帮助学员高效找到适合自己的优质课程。",
        "{brand}学堂 App、{brand}学堂网页版",
        "课程列表按课程质量和您的学习阶段排序，质量主要看完课率和学员评价。标有“推广”的课程是付费展示的。您可以"
        "改为按最新或最热排序；面向未成年人的课程晚上10点后不会推送通知。",
    ),
    FilingTemplate(
        "retrieval", ("information_transmission", "software_it"),
        "{brand}搜索网页检索排序算法",
        "{brand}搜索网页版和 App 的综合搜索、资讯搜索和图片搜索结果的检索与排序。",
        "搜索引擎服务",
        "对网页进行分词并建立倒排索引，先用关键词匹配和向量语义匹配召回相关网页，再用学习排序模型按相关性、"
        "权威性和时效性排序。",
        "检索结果经违法不良信息过滤后展示；付费搜索结果单独标注“广告”且数量受限；对医疗、药品类查询优先展示卫生"
        "健康部门和权威医疗机构的信息；用户可对结果提出投诉，经核实后处理。",
        "帮助用户准确、快速地获取需要的信息。",
        "{brand}搜索网页版、{brand}搜索 App、{brand}浏览器",
        "搜索结果按与您搜索内容的相关程度、网站的权威性和信息的新旧程度排序。标有“广告”的结果是付费推广。医疗"
        "健康类问题会优先展示权威机构的信息。您可以通过结果旁的“反馈”按钮举报不良或错误信息。",
    ),
    FilingTemplate(
        "retrieval", ("information_transmission", "software_it"),
        "{brand}社区违规内容识别过滤算法",
        "{brand}社区帖子、评论和私信中违法与不良信息的识别、拦截和降权处理。",
        "网络社区",
        "使用多模态分类模型识别文本和图片中的违法违规内容，结合关键词规则库和用户举报数据，对内容进行风险分级。",
        "高风险内容自动拦截并通知发布者；中风险内容进入人工审核队列，审核员在2小时内处理；低风险内容正常展示；"
        "用户对处理结果有异议可在7日内申诉，由另一名审核员复核；模型每月用人工审核结果重新训练。",
        "维护清朗的网络社区环境，保护未成年人。",
        "{brand}社区 App、{brand}社区网页版",
        "为维护社区秩序，您发布的内容会先经过自动检查，可能违法违规的内容会被拦截或交给审核员人工复核。如果您认为"
        "内容被误判，可以在“消息—系统通知”中提出申诉，我们会在3个工作日内答复。",
    ),
    FilingTemplate(
        "retrieval", _ANY,
        "{brand}企业知识库语义检索算法",
        "为金融、制造企业客户部署内部知识库问答和文档检索服务，作为技术支持者提供检索引擎。",
        "企业服务",
        "将企业文档切分为段落后用语义向量模型编码，检索时计算问题与段落向量的相似度，并结合关键词匹配重新排序，"
        "返回最相关的原文段落。",
        "检索仅在客户授权的文档范围内进行，并按客户的用户权限过滤结果；返回结果注明文档出处；系统不保留客户的查询"
        "内容用于其他客户；部署于客户私有环境时由客户管理数据。",
        "帮助企业员工快速找到制度、技术文档中的准确信息。",
        "{brand}知识库检索引擎（私有化部署版、云服务版）",
        "本算法帮助企业员工在公司内部文档中查找资料，只在企业授权的文件范围内检索，并按员工的权限过滤结果，每条"
        "结果都会标明来自哪份文件。我们不会把一家企业的资料提供给其他企业。",
        role="supporter",
    ),
    FilingTemplate(
        "scheduling", ("transport", "software_it"),
        "{brand}出行网约车智能派单算法",
        "{brand}出行 App 乘客下单后，为订单匹配附近的合规网约车驾驶员。",
        "交通出行",
        "以乘客等待时间、驾驶员接驾距离和全局供需平衡为目标，把一批订单与空闲车辆的匹配建模为二分图最优匹配"
        "问题求解。",
        "系统每2秒汇总一批订单和空闲车辆，计算预估接驾时间后求解全局最优匹配；只向持有网约车驾驶员证和运输证的"
        "车辆派单；驾驶员连续驾驶满4小时将强制休息20分钟并暂停派单；派单规则和计价规则在驾驶员端公示。",
        "缩短乘客等待时间，减少空驶，保障驾驶员合理收入和休息。",
        "{brand}出行乘客端 App、{brand}出行司机端 App",
        "您下单后，系统会综合考虑附近车辆到您的距离和道路情况，为您安排预计最快到达的车辆，不会因为您使用的手机"
        "型号或历史消费不同而区别派单和定价。司机连续开车4小时后必须休息，以保障行车安全。",
    ),
    FilingTemplate(
        "scheduling", ("transport", "retail", "software_it"),
        "{brand}即时配送骑手调度算法",
        "{brand}到家平台外卖和商超订单的骑手指派、路线规划和预计送达时间计算。",
        "即时配送",
        "根据商家出餐时间预测、骑手位置和在途订单、道路通行情况，用启发式搜索求解订单分配与路径规划，使整体送达"
        "时间最短。",
        "预计送达时间在计算值基础上为骑手保留合理冗余，并随雨雪天气、高峰时段自动延长；骑手可拒绝超出能力的派单"
        "而不影响评分；单日在线超过8小时后系统停止派单；考核规则、计件单价调整须提前7日在骑手端公示并听取工会意见。",
        "提高配送效率，同时保障骑手劳动安全和合理报酬（条例第六十七条）。",
        "{brand}到家用户端 App、{brand}骑手 App、商家管理后台",
        "订单的预计送达时间由系统根据商家出餐、路况和天气计算，恶劣天气和高峰时段会自动放宽，骑手不会因合理超时"
        "被扣款。骑手每天在线超过8小时后系统将不再派单。对配送时间有疑问，可以在订单页查看计算说明。",
    ),
    FilingTemplate(
        "scheduling", ("industry", "transport", "software_it"),
        "{brand}仓储机器人任务调度算法",
        "为电商和制造企业仓库中的搬运机器人分配拣选、搬运和充电任务，并规划无碰撞路径。",
        "智能制造与物流",
        "把仓库建模为栅格地图，用时空冲突搜索算法为多台机器人同时规划无碰撞路径，并按订单截止时间和机器人电量"
        "分配任务。",
        "调度中心每秒更新机器人位置和任务状态，发现路径冲突时重新规划；机器人与人员共用区域限速并设置电子围栏，"
        "检测到人员进入立即停止；调度异常时自动切换为人工控制模式。",
        "提高仓储作业效率，保障现场人员安全。",
        "{brand}智能仓储调度系统（WMS 插件）、{brand}机器人控制台",
        "这套算法负责安排仓库里的搬运机器人去哪里取货、走哪条路线，避免机器人之间相互碰撞。机器人在有人员的区域会"
        "减速，一旦检测到有人靠近就会立即停下，出现异常时由工作人员接管。",
    ),
    FilingTemplate(
        "scheduling", ("software_it", "other", "leasing_business"),
        "{brand}小微企业信贷智能风控决策算法",
        "为合作银行的小微企业线上贷款提供授信额度建议和风险预警，作为技术支持者提供模型服务。",
        "金融科技",
        "以企业授权提供的纳税、开票、社保缴纳和经营流水数据为特征，用梯度提升树模型预估违约概率，并给出可解释的"
        "主要影响因素。",
        "模型只输出风险评分和额度建议，最终授信由银行工作人员决定；企业主个人的性别、年龄、籍贯等信息不进入模型；"
        "每季度检验不同行业和地区企业间的通过率差异；申请人可要求银行说明未获授信的主要原因。",
        "帮助银行更准确地评估小微企业信用，扩大普惠金融覆盖面。",
        "{brand}普惠风控模型服务 API",
        "本算法为银行审批小微企业贷款提供参考评分，只使用企业授权的纳税、开票和社保等经营数据，不使用企业主的性别、"
        "年龄、籍贯等个人信息。最终是否放贷由银行决定，企业可以要求银行说明未通过的主要原因。",
        role="supporter",
    ),
)

RETURN_COMMENTS = (
    "“运行机制”未说明人工干预和应急处置措施，请补充后重新提交。",
    "安全自评估报告缺少训练数据来源合法性的说明，请补充数据来源清单后重新提交。",
    "拟公示内容过于专业，请用普通用户能看懂的语言说明算法如何影响用户以及用户可以如何选择。",
    "请补充未成年人保护措施，并说明用户关闭个性化服务的具体入口。",
    "“使用该算法的产品及接口”与自评估报告中列出的不一致，请核对后重新提交。",
)
REJECT_COMMENTS = (
    "经核查，备案主体未能提供算法安全自评估的有效证明，多次补正后仍不符合要求，不予备案。",
    "该算法存在利用用户画像实施差别化定价的情形，与拟公示内容不符，不予备案。",
    "备案材料中的产品已被依法责令停止服务，不予备案。",
)
DEREGISTRATION_REASONS = (
    "相关产品已于本月下线，算法停止提供服务，申请注销备案。",
    "公司业务调整，该算法已整合进新版系统并将另行备案，申请注销原备案。",
    "合作客户终止合同，作为技术支持者不再提供该算法服务，申请注销。",
)
REFUSE_DEREGISTRATION_COMMENTS = (
    "经核查，相关产品仍在各应用商店上架并提供服务，暂不予注销，请下线后重新申请。",
)
FIX_NOTES = (
    "已补充：发生重大安全事件时可在10分钟内切换为非个性化的默认策略，并设置7×24小时值班人工干预。",
    "已补充训练数据来源清单，均为自有业务数据或取得授权的公开数据，并附授权文件编号。",
)
CHANGE_NOTES = (
    "（变更）新增用户反馈快速通道，投诉处理时限由48小时缩短为24小时；模型更新频率由每日调整为每小时。",
    "（变更）新增面向老年人的简洁模式，并补充第三方检测机构出具的安全评估结论。",
    "（变更）接入新版安全审核模型，对生成内容增加隐式标识校验。",
)

# Outcome of each planned filing. "superseded" makes two rows (the original and its approved change),
# "open_change" two as well (an approved filing and a change still in draft).
OUTCOMES: dict[str, int] = {
    "approved": 17, "resubmitted_approved": 2, "refused_deregistration": 2, "superseded": 4,
    "deregistration_requested": 3, "deregistered": 3, "open_change": 2, "submitted": 7, "returned": 5,
    "rejected": 3, "withdrawn": 3, "draft": 4,
}
APPROVING = {"approved", "resubmitted_approved", "refused_deregistration", "superseded",
             "deregistration_requested", "deregistered", "open_change"}
# E0001 is the enterprise of the printed demo login: give it one of everything interesting.
_E0001_OUTCOMES = ("approved", "superseded", "returned", "submitted", "draft", "deregistered")


@dataclass
class FilingPlan:
    outcome: str
    enterprise: EnterpriseSpec
    template: FilingTemplate
    department: str  # DepartmentDuty
    approved_on: date | None = None
    change_approved_on: date | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def disclosure_periods(today: date) -> list[tuple[date, date]]:
    """The two most recent complete calendar half-years, oldest first."""
    if today.month > 6:
        last = (date(today.year, 1, 1), date(today.year, 6, 30))
        before = (date(today.year - 1, 7, 1), date(today.year - 1, 12, 31))
    else:
        last = (date(today.year - 1, 7, 1), date(today.year - 1, 12, 31))
        before = (date(today.year - 1, 1, 1), date(today.year - 1, 6, 30))
    return [before, last]


def _working_day_before(d: date) -> date:
    while not workdays.is_working_day(d):
        d -= timedelta(days=1)
    return d


def plan_filings(rng: random.Random, filers: list[EnterpriseSpec], today: date) -> list[FilingPlan]:
    """Who files what, with which outcome and (for approvals) on which day. Pure and deterministic."""
    pool = [o for o, n in OUTCOMES.items() for _ in range(n)]
    for outcome in _E0001_OUTCOMES:
        pool.remove(outcome)
    rng.shuffle(pool)
    used: dict[str, set[str]] = {}

    def template_for(spec: EnterpriseSpec) -> FilingTemplate:
        taken = used.setdefault(spec.code, set())
        fitting = [t for t in TEMPLATES if spec.industry in t.industries and t.name not in taken]
        choice = rng.choice(fitting or [t for t in TEMPLATES if t.name not in taken])
        taken.add(choice.name)
        return choice

    def department(t: FilingTemplate) -> str:
        usual = DepartmentDuty.ECONOMY if t.category == "scheduling" else DepartmentDuty.CYBERSPACE
        other = DepartmentDuty.CYBERSPACE if usual == DepartmentDuty.ECONOMY else DepartmentDuty.ECONOMY
        return other if rng.random() < 0.15 else usual

    plans = []
    first = filers[0]
    for outcome in _E0001_OUTCOMES:
        t = template_for(first)
        plans.append(FilingPlan(outcome, first, t, department(t)))
    for outcome in pool:
        spec = rng.choice(filers[1:])
        t = template_for(spec)
        plans.append(FilingPlan(outcome, spec, t, department(t)))

    # Approval days spread evenly over the window (with jitter), on official working days.
    approving = [p for p in plans if p.outcome in APPROVING]
    rng.shuffle(approving)
    yesterday = today - timedelta(days=1)
    span = APPROVAL_WINDOW_DAYS - 5
    for k, plan in enumerate(approving):
        offset = 5 + int(span * (k + rng.random()) / len(approving))
        plan.approved_on = _working_day_before(today - timedelta(days=offset))
        if plan.outcome == "superseded":
            later = min(plan.approved_on + timedelta(days=rng.randint(45, 200)), yesterday)
            if later <= plan.approved_on + timedelta(days=10):
                plan.approved_on = _working_day_before(later - timedelta(days=rng.randint(40, 90)))
            plan.change_approved_on = _working_day_before(later)
    # Both disclosure periods must hold at least one cyberspace filing: its publisher publishes them.
    for start, end in disclosure_periods(today):
        inside = [p for p in approving if p.approved_on and start <= p.approved_on <= end]
        if not inside:
            raise RuntimeError(f"no demo approvals fall in {start}..{end}")
        if not any(p.department == DepartmentDuty.CYBERSPACE for p in inside):
            inside[0].department = DepartmentDuty.CYBERSPACE
    return plans


def report_pdf(title: str, lines: list[str], author: str = "") -> bytes:
    """A small, valid one-page PDF 1.4: Chinese in the standard STSong-Light CJK font, ASCII in Helvetica.

    Written by hand (objects, cross-reference table with exact byte offsets, trailer), so no PDF library
    is needed; every PDF reader opens it.
    """

    def ascii_literal(text: str) -> str:
        safe = text.encode("ascii", "replace").decode()
        return "(" + safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"

    def show(text: str) -> str:
        if text.isascii():
            return f"/F1 10 Tf {ascii_literal(text)} Tj"
        return f"/F2 11 Tf <{text.encode('utf-16-be').hex().upper()}> Tj"

    ops = ["BT", "/F2 16 Tf 56 790 Td 18 TL", f"<{title.encode('utf-16-be').hex().upper()}> Tj", "T*", "T*"]
    for line in lines:
        ops.extend([show(line), "T*"])
    ops.append("ET")
    stream = "\n".join(ops).encode("ascii")
    info_title = "<FEFF" + title.encode("utf-16-be").hex().upper() + ">"
    info_author = "<FEFF" + author.encode("utf-16-be").hex().upper() + ">"
    created = timezone.now().strftime("D:%Y%m%d%H%M%SZ")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 7 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H "
        b"/DescendantFonts [6 0 R] >>",
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> /FontDescriptor 8 0 R /DW 1000 >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] "
        b"/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>",
        f"<< /Title {info_title} /Author {info_author} /Producer (Gaodi demo) /CreationDate ({created}) >>".encode(),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref_at = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode() + b"0000000000 65535 f \n"
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>\n"
            f"startxref\n{xref_at}\n%%EOF\n").encode()
    return bytes(out)


def _wrap(text: str, width: int = 38) -> list[str]:
    return [text[i:i + width] for i in range(0, len(text), width)] or [""]


def _report_upload(content: dict[str, str], org_name: str, version: int = 1) -> SimpleUploadedFile:
    lines = [f"备案主体：{org_name}", f"算法名称：{content['name']}", f"版本：{version}", ""]
    for heading, key in (("一、应用场景", "scenarios"), ("二、基本原理", "principle"), ("三、运行机制", "mechanism"),
                         ("四、面向公众的说明", "public_text")):
        lines.append(heading)
        lines.extend(_wrap(content[key]))
    lines += ["", "五、评估结论：经自评估，该算法已落实安全管理制度和技术措施，风险可控。",
              "Algorithm security self-assessment report (demo data generated by Gaodi)."]
    pdf = report_pdf("算法安全自评估报告", lines, author=org_name)
    return SimpleUploadedFile(f"{content['name']}-安全自评估报告-v{version}.pdf", pdf, "application/pdf")


# ---- loading ------------------------------------------------------------------------------------


def has_data() -> bool:
    """True if the database already has organizations or users (demo or real): never load over them."""
    return Organization.objects.exists() or User.objects.exists()


def load_demo(seed: int = 7) -> dict[str, Any]:
    """Create the demo organizations, users, filings and disclosure batches; return what was made.

    Deterministic for a seed (names, codes, contents, outcomes; timestamps follow the clock). Runs in one
    transaction: it loads completely or not at all. Call on an empty database (see has_data()).
    """
    started = time.perf_counter()
    rng = random.Random(seed)
    today = timezone.localdate()
    specs = plan_enterprises(rng)
    filers = specs[:FILER_COUNT]
    plans = plan_filings(rng, filers, today)
    with transaction.atomic():
        orgs = _create_orgs(rng, specs)
        users = _create_users(rng, orgs, [s.code for s in filers])
        loader = _FilingLoader(rng, orgs, users)
        # Approvals in date order, so filing serials grow with the (back-dated) approval day.
        for plan in sorted(plans, key=lambda p: (p.approved_on is None, p.approved_on or today)):
            loader.run(plan)
        loader.backdate()
        publisher, department = users["cyber-publisher"], orgs["D04"]
        for start, end in disclosure_periods(today):
            half = "上半年" if start.month == 1 else "下半年"
            actions.publish_batch(
                publisher, department, f"{start.year}年{half}上海市算法备案信息公示", start, end,
                note=f"公示{start:%Y年%m月%d日}至{end:%Y年%m月%d日}期间经本部门备案的算法（条例第十五条）。",
            )
        # Public compute (Art. 12-13): providers, programmes, vouchers and a few jobs that really run.
        from gaodi.apps.compute.demo import load_compute_demo

        compute = load_compute_demo(rng)
        # Data resources (Art. 16-17): datasets, open lists, access applications and a grant.
        from gaodi.apps.data.demo import load_data_demo

        data = load_data_demo(rng)
        # Evaluations (Art. 10, 15, 66, 67): models tested by T01, certificates, the recommended catalog.
        from gaodi.apps.algorithms.evaluation_demo import load_evaluation_demo

        evaluations = load_evaluation_demo(rng)
        counts: dict[str, Any] = {
            "organizations": Organization.objects.count(),
            "enterprises": Organization.objects.filter(kind=OrgKind.ENTERPRISE).count(),
            "districts": Organization.objects.filter(kind=OrgKind.ENTERPRISE).values("district").distinct().count(),
            "users": User.objects.count(),
            "filings": AlgorithmFiling.objects.count(),
            "filings_by_state": dict(
                AlgorithmFiling.objects.values_list("state").annotate(n=Count("id")).order_by("state")
            ),
            "batches": DisclosureBatch.objects.count(),
            "disclosure_items": DisclosureItem.objects.count(),
            "compute": {k: v for k, v in compute.items() if k != "logins"},
            "data": data,
            "evaluations": evaluations,
        }
        audit.record(None, "demo.load", None, {"seed": seed, **counts})
        counts["audit_entries"] = AuditEntry.objects.count()
    counts["seconds"] = round(time.perf_counter() - started, 2)
    return counts


class _FilingLoader:
    """Runs one FilingPlan through the real actions, as the enterprise and the reviewers would."""

    def __init__(self, rng: random.Random, orgs: dict[str, Organization], users: dict[str, User]) -> None:
        self.rng, self.orgs, self.users = rng, orgs, users
        self.departments = {o.duty: o for o in orgs.values() if o.kind == OrgKind.DEPARTMENT}
        self.reviewers = {DepartmentDuty.CYBERSPACE: [users["cyber-reviewer"], users["cyber-reviewer-2"]],
                          DepartmentDuty.ECONOMY: [users["econ-reviewer"]]}
        # filing pk -> (created, submitted, approved) days for back-dating
        self.dates: dict[int, tuple[date, date, date]] = {}

    def _form(self, content: dict[str, str], department: Organization, report: SimpleUploadedFile | None,
              instance: AlgorithmFiling | None = None) -> FilingForm:
        data = {**content, "department": str(department.pk)}
        files = {"report": report} if report is not None else {}
        return FilingForm(data=data, files=files, instance=instance)

    def run(self, plan: FilingPlan) -> None:
        a, rng = actions, self.rng
        org = self.orgs[plan.enterprise.code]
        member = self.users[f"{org.code.lower()}.member"]
        owner_admin = self.users[f"{org.code.lower()}.admin"]
        reviewer = rng.choice(self.reviewers[plan.department])
        department = self.departments[plan.department]
        content = plan.template.fill(plan.enterprise.brand)
        outcome = plan.outcome

        report = _report_upload(content, org.name)
        if outcome == "draft" and rng.random() < 0.5:
            # A draft still being written: no report yet, no public explanation yet.
            report = None
            content = {**content, "public_text": ""}
        filing = a.create_filing(member, org, self._form(content, department, report))
        if outcome == "draft":
            return
        if outcome == "withdrawn" and rng.random() < 0.5:
            a.withdraw_filing(member, filing)
            return
        filing = a.submit_filing(member, filing)
        if outcome == "submitted":
            return
        if outcome == "rejected":
            a.reject_filing(reviewer, filing, rng.choice(REJECT_COMMENTS))
            return
        if outcome in ("returned", "withdrawn", "resubmitted_approved"):
            filing = a.return_filing(reviewer, filing, rng.choice(RETURN_COMMENTS))
            if outcome == "returned":
                return
            if outcome == "withdrawn":
                a.withdraw_filing(owner_admin, filing)
                return
            fixed = {**content, "mechanism": content["mechanism"] + rng.choice(FIX_NOTES)}
            filing = a.update_filing(member, filing, self._form(fixed, department, None, instance=filing))
            filing = a.submit_filing(member, filing)
        filing = a.approve_filing(reviewer, filing, "材料齐全，符合备案要求。")
        assert plan.approved_on is not None
        self._remember(filing.pk, plan.approved_on)

        if outcome in ("refused_deregistration", "deregistration_requested", "deregistered"):
            filing = a.request_deregistration(owner_admin, filing, rng.choice(DEREGISTRATION_REASONS))
            if outcome == "refused_deregistration":
                a.decide_deregistration(reviewer, filing, False, rng.choice(REFUSE_DEREGISTRATION_COMMENTS))
            elif outcome == "deregistered":
                a.decide_deregistration(reviewer, filing, True, "经核查，相关服务已停止，准予注销。")
        elif outcome in ("superseded", "open_change"):
            change = a.request_change(member, filing)
            changed = {**content, "mechanism": content["mechanism"] + rng.choice(CHANGE_NOTES)}
            change = a.update_filing(member, change, self._form(
                changed, department, _report_upload(changed, org.name, change.version), instance=change))
            if outcome == "open_change":
                return
            change = a.submit_filing(member, change)
            change = a.approve_filing(reviewer, change, "变更内容已核实，准予变更备案。")
            assert plan.change_approved_on is not None
            self._remember(change.pk, plan.change_approved_on, not_before=plan.approved_on)

    def _remember(self, pk: int, approved: date, not_before: date | None = None) -> None:
        submitted = _working_day_before(approved - timedelta(days=self.rng.randint(3, 25)))
        if not_before is not None and submitted <= not_before:
            submitted = approved
        created = submitted - timedelta(days=self.rng.randint(0, 10))
        if not_before is not None and created <= not_before:
            created = submitted
        self.dates[pk] = (created, submitted, approved)

    def backdate(self) -> None:
        """Demo realism only: the actions stamp timezone.now(), which would put every approval today.

        Move created/submitted/approved times of approved versions back to their planned days so the
        public list and the disclosure periods look like 18 months of real work. Nothing else is touched:
        workflow history and audit entries are evidence and keep their true (load-time) timestamps, and
        filing numbers keep the year in which they were issued (the load year).
        """
        tz = timezone.get_default_timezone()

        def at(d: date, earliest_hour: int) -> datetime:
            return datetime(d.year, d.month, d.day, self.rng.randint(earliest_hour, earliest_hour + 2),
                            self.rng.randint(0, 59), self.rng.randint(0, 59), tzinfo=tz)

        for pk, (created, submitted, approved) in self.dates.items():
            AlgorithmFiling.objects.filter(pk=pk).update(
                created_at=at(created, 9), submitted_at=at(submitted, 12), approved_at=at(approved, 15)
            )
